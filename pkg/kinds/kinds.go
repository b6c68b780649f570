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

// defaultChart is where Cozystack publishes its application charts.
func defaultChart(name string) release.Chart {
	return release.Chart{
		Name:      name,
		Version:   ">= 0.0.0-0",
		SourceRef: release.SourceRef{Kind: "HelmRepository", Name: "cozystack-apps", Namespace: "cozy-public"},
		Interval:  metav1.Duration{Duration: 5 * time.Minute},
		Timeout:   &metav1.Duration{Duration: 10 * time.Minute},
	}
}

// Config is the operator's override of the built-in chart settings, keyed by kind.
//
//	kinds:
//	  Kubernetes:
//	    name: kubernetes
//	    version: ">= 0.20.0"
//	    sourceRef: {kind: HelmRepository, name: cozystack-apps, namespace: cozy-public}
//	    interval: 5m
//	    timeout: 15m
type Config struct {
	Kinds map[string]release.Chart `json:"kinds"`
}

// Load returns All with the charts from the config file at path; an empty path keeps the
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
	for name, chart := range cfg.Kinds {
		k, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("kinds config %s: unknown kind %q", path, name)
		}
		if chart.Name == "" || chart.SourceRef.Kind == "" || chart.SourceRef.Name == "" {
			return nil, fmt.Errorf("kinds config %s: kind %s needs name, sourceRef.kind and sourceRef.name", path, name)
		}
		if chart.Interval.Duration <= 0 {
			chart.Interval = k.Chart.Interval
		}
		k.Chart = chart
	}
	return all, nil
}
