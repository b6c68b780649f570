package release

import (
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Chart is the part of a HelmRelease spec that says where Flux gets a kind's chart and how it
// reconciles the kind's releases. It is configuration, not user input; the default is the layout
// cozystack-api writes (pkg/kinds).
type Chart struct {
	// ChartRef names a Flux source that is the chart itself: Cozystack publishes each application
	// chart as an ExternalArtifact in cozy-system. Exclusive with Name and SourceRef.
	ChartRef *SourceRef `json:"chartRef,omitempty"`
	// Name is the chart's name in SourceRef.
	Name string `json:"name,omitempty"`
	// Version is a semver range Flux resolves against SourceRef; empty means the latest.
	Version string `json:"version,omitempty"`
	// SourceRef names the Flux source (HelmRepository, GitRepository or Bucket) holding the chart.
	SourceRef *SourceRef `json:"sourceRef,omitempty"`
	// Interval is how often Flux reconciles the release.
	Interval metav1.Duration `json:"interval"`
	// Timeout bounds each Helm install, upgrade or uninstall; nil keeps Flux's default.
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// MaxHistory is how many release revisions Helm keeps; nil leaves the release's setting.
	MaxHistory *int64 `json:"maxHistory,omitempty"`
	// RetryInterval makes Flux retry a failed install or upgrade after this long (its
	// RetryOnFailure strategy); nil leaves the release's setting.
	RetryInterval *metav1.Duration `json:"retryInterval,omitempty"`
	// ValuesSecret names a Secret in the release's namespace whose values Flux merges under the
	// user's: the platform values the charts read (Cozystack's cozystack-values). Empty for none.
	ValuesSecret string `json:"valuesSecret,omitempty"`
	// ShardingKey is the Flux sharding label given to new releases; empty for none.
	ShardingKey string `json:"shardingKey,omitempty"`
}

// SourceRef points at a Flux source object.
type SourceRef struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// Validate reports a chart Flux could not use.
func (c *Chart) Validate() error {
	switch {
	case c.ChartRef != nil && (c.Name != "" || c.SourceRef != nil):
		return errors.New("chartRef excludes name and sourceRef")
	case c.ChartRef != nil && (c.ChartRef.Kind == "" || c.ChartRef.Name == ""):
		return errors.New("chartRef needs kind and name")
	case c.ChartRef == nil && (c.Name == "" || c.SourceRef == nil || c.SourceRef.Kind == "" || c.SourceRef.Name == ""):
		return errors.New("needs chartRef, or name with sourceRef.kind and sourceRef.name")
	}
	return nil
}

func (r *SourceRef) toMap() map[string]any {
	out := map[string]any{"kind": r.Kind, "name": r.Name}
	if r.Namespace != "" {
		out["namespace"] = r.Namespace
	}
	return out
}

// applyTo writes the chart settings into a release and keeps any other of its fields.
func (c *Chart) applyTo(hr *unstructured.Unstructured) error {
	set := func(value any, path ...string) error {
		return unstructured.SetNestedField(hr.Object, value, append([]string{"spec"}, path...)...)
	}
	remove := func(path ...string) { unstructured.RemoveNestedField(hr.Object, append([]string{"spec"}, path...)...) }
	if c.ChartRef != nil {
		remove("chart")
		if err := set(c.ChartRef.toMap(), "chartRef"); err != nil {
			return err
		}
	} else {
		remove("chartRef")
		if c.SourceRef != nil {
			if err := set(c.SourceRef.toMap(), "chart", "spec", "sourceRef"); err != nil {
				return err
			}
		}
		if err := set(c.Name, "chart", "spec", "chart"); err != nil {
			return err
		}
		if c.Version != "" {
			if err := set(c.Version, "chart", "spec", "version"); err != nil {
				return err
			}
		} else {
			remove("chart", "spec", "version")
		}
	}
	if err := set(c.Interval.Duration.String(), "interval"); err != nil {
		return err
	}
	if c.Timeout != nil {
		if err := set(c.Timeout.Duration.String(), "timeout"); err != nil {
			return err
		}
	} else {
		remove("timeout")
	}
	if c.MaxHistory != nil {
		if err := set(*c.MaxHistory, "maxHistory"); err != nil {
			return err
		}
	}
	if c.RetryInterval != nil {
		strategy := map[string]any{"name": "RetryOnFailure", "retryInterval": c.RetryInterval.Duration.String()}
		for _, action := range []string{"install", "upgrade"} {
			if err := set(strategy, action, "strategy"); err != nil {
				return err
			}
		}
	}
	if c.ValuesSecret != "" {
		if err := set([]any{map[string]any{"kind": "Secret", "name": c.ValuesSecret}}, "valuesFrom"); err != nil {
			return err
		}
	}
	return nil
}
