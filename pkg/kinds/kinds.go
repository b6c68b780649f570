// Package kinds lists the apps.cozy.io kinds and how each is stored as a HelmRelease. Each kind is
// one short file; Load lets operators point them at other charts without rebuilding.
package kinds

import (
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// All returns every kind with its built-in chart settings, in the order they are served.
func All() []*release.Kind {
	return []*release.Kind{Kubernetes(), VirtualMachine(), VMDisk(), Bucket()}
}

// ByName returns the built-in description of the kind called name (e.g. "Bucket"), or nil.
func ByName(name string) *release.Kind {
	for _, k := range All() {
		if k.Kind == name {
			return k
		}
	}
	return nil
}

// cozystackChart is how cozystack-api lays out a release of the application whose chart
// Cozystack publishes as the ExternalArtifact cozy-system/<artifact>: reconciled every 5 minutes,
// 5 revisions kept, failed installs and upgrades retried every 30 s, the platform values from the
// tenant namespace's cozystack-values Secret, reconciled by the "tenants" Flux shard.
func cozystackChart(artifact string) release.Chart {
	maxHistory := int64(5)
	return release.Chart{
		ChartRef:      &release.SourceRef{Kind: "ExternalArtifact", Name: artifact, Namespace: "cozy-system"},
		Interval:      metav1.Duration{Duration: 5 * time.Minute},
		Timeout:       &metav1.Duration{Duration: 10 * time.Minute},
		MaxHistory:    &maxHistory,
		RetryInterval: &metav1.Duration{Duration: 30 * time.Second},
		ValuesSecret:  "cozystack-values",
		ShardingKey:   "tenants",
	}
}

// Config is the operator's override of the built-in settings, keyed by kind. A kind listed gets
// the chart given (all of it: nothing is merged with the built-in chart); its release prefix and
// application kind label, part of the stored data, may be changed too.
//
//	kinds:
//	  Kubernetes:
//	    chartRef: {kind: ExternalArtifact, name: cozystack-kubernetes-application-kubevirt-kubernetes, namespace: cozy-system}
//	    interval: 5m
//	    timeout: 15m
//	  Bucket:
//	    name: bucket
//	    sourceRef: {kind: HelmRepository, name: cozystack-apps, namespace: cozy-public}
//	    interval: 5m
//	    releasePrefix: bucket-
//	    applicationKind: Bucket
type Config struct {
	Kinds map[string]KindConfig `json:"kinds"`
}

// KindConfig overrides one kind's chart and, optionally, its release layout.
type KindConfig struct {
	release.Chart `json:",inline"`
	// ReleasePrefix replaces the kind's release-name prefix.
	ReleasePrefix string `json:"releasePrefix,omitempty"`
	// ApplicationKind replaces the value of the kind's application-kind label.
	ApplicationKind string `json:"applicationKind,omitempty"`
}

// Load returns All with the settings from the config file at path; an empty path keeps the
// defaults. Unknown kinds and incomplete charts are start-up errors, not silent defaults.
func Load(path string) ([]*release.Kind, error) {
	all := All()
	if path == "" {
		return all, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading kinds config: %w", err)
	}
	var cfg Config
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		return nil, fmt.Errorf("parsing kinds config %s: %w", path, err)
	}
	byName := map[string]*release.Kind{}
	for _, k := range all {
		byName[k.Kind] = k
	}
	for name, kc := range cfg.Kinds {
		k, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("kinds config %s: unknown kind %q", path, name)
		}
		if err := kc.Chart.Validate(); err != nil {
			return nil, fmt.Errorf("kinds config %s: kind %s: %w", path, name, err)
		}
		if kc.Interval.Duration <= 0 {
			kc.Interval = k.Layout.Chart.Interval
		}
		k.Layout.Chart = kc.Chart
		if kc.ReleasePrefix != "" {
			k.Layout.ReleasePrefix = kc.ReleasePrefix
		}
		if kc.ApplicationKind != "" {
			k.ApplicationKind = kc.ApplicationKind
		}
	}
	seenPrefix, seenKind := map[string]string{}, map[string]string{}
	for _, k := range all {
		if other, dup := seenPrefix[k.Layout.ReleasePrefix]; dup {
			return nil, fmt.Errorf("kinds config %s: %s and %s share the release prefix %q", path, other, k.Kind, k.Layout.ReleasePrefix)
		}
		if other, dup := seenKind[k.ApplicationKind]; dup {
			return nil, fmt.Errorf("kinds config %s: %s and %s share the application kind %q", path, other, k.Kind, k.ApplicationKind)
		}
		seenPrefix[k.Layout.ReleasePrefix], seenKind[k.ApplicationKind] = k.Kind, k.Kind
	}
	return all, nil
}
