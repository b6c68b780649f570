package kinds

import (
	"testing"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

func TestDefinitionsGiveTheTypedKindsTheirReleaseLayout(t *testing.T) {
	defs := catalogDefinitions(t)
	typed := All()
	// The catalog's own definitions of the typed kinds describe the layout they already have.
	if changed := ConfigureTyped(typed, []*ApplicationDefinition{defs["bucket"], defs["kubernetes"], defs["vm-disk"], defs["vm-instance"]}); len(changed) != 0 {
		t.Errorf("definitions equal to the built-in layout changed %v", changed)
	}
	moved := *defs["bucket"]
	moved.Spec.Release = ApplicationRelease{Prefix: "b-", Labels: map[string]string{"team": "storage"},
		ChartRef: &ChartRef{Kind: "ExternalArtifact", Name: "other-bucket", Namespace: "cozy-public"}}
	changed := ConfigureTyped(typed, []*ApplicationDefinition{&moved, defs["redis"]})
	if len(changed) != 1 || changed[0] != "Bucket" {
		t.Fatalf("changed %v, want [Bucket]", changed)
	}
	var bucket *release.Kind
	for _, k := range typed {
		if k.Kind == "Bucket" {
			bucket = k
		}
	}
	if bucket.ReleasePrefix != "b-" || bucket.Chart.ChartRef.Name != "other-bucket" || bucket.Chart.ChartRef.Namespace != "cozy-public" || bucket.ReleaseLabels["team"] != "storage" {
		t.Errorf("Bucket's layout: prefix %q chart %+v labels %v", bucket.ReleasePrefix, bucket.Chart.ChartRef, bucket.ReleaseLabels)
	}
	if bucket.Chart.Interval.Duration == 0 {
		t.Errorf("the rest of the chart settings were lost: %+v", bucket.Chart)
	}
}
