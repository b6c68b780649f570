package kinds

import (
	"slices"
	"testing"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

func byKind(t *testing.T, typed []*release.Kind, name string) *release.Kind {
	t.Helper()
	for _, k := range typed {
		if k.Kind == name {
			return k
		}
	}
	t.Fatalf("no typed kind %s", name)
	return nil
}

// withRelease is a copy of def with another release layout.
func withRelease(def *ApplicationDefinition, prefix string, labels map[string]string) *ApplicationDefinition {
	moved := *def
	moved.Spec.Release = ApplicationRelease{Prefix: prefix, Labels: labels,
		ChartRef: &ChartRef{Kind: "ExternalArtifact", Name: "other-" + def.Name, Namespace: "cozy-public"}}
	return &moved
}

func TestDefinitionsGiveTheTypedKindsTheirReleaseLayout(t *testing.T) {
	defs := catalogDefinitions(t)
	typed := All()
	// The catalog's own definitions of the typed kinds describe the layout they already have.
	if changed := ConfigureTyped(typed, []*ApplicationDefinition{defs["bucket"], defs["kubernetes"], defs["vm-disk"], defs["vm-instance"]}); len(changed) != 0 {
		t.Errorf("definitions equal to the built-in layout changed %v", changed)
	}
	changed := ConfigureTyped(typed, []*ApplicationDefinition{withRelease(defs["bucket"], "b-", map[string]string{"team": "storage"}), defs["redis"]})
	if !slices.Equal(changed, []string{"Bucket"}) {
		t.Fatalf("changed %v, want [Bucket]", changed)
	}
	bucket := byKind(t, typed, "Bucket")
	layout := bucket.ReleaseLayout()
	if layout.ReleasePrefix != "b-" || layout.Chart.ChartRef.Name != "other-bucket" || layout.Chart.ChartRef.Namespace != "cozy-public" || layout.ReleaseLabels["team"] != "storage" {
		t.Errorf("Bucket's layout: prefix %q chart %+v labels %v", layout.ReleasePrefix, layout.Chart.ChartRef, layout.ReleaseLabels)
	}
	if layout.Chart.Interval.Duration == 0 || layout.Chart.ValuesSecret == "" {
		t.Errorf("the rest of the chart settings were lost: %+v", layout.Chart)
	}
	if bucket.Layout.ReleasePrefix != "bucket-" || bucket.ReleaseName("x") != "b-x" {
		t.Errorf("own prefix %q, release name %q", bucket.Layout.ReleasePrefix, bucket.ReleaseName("x"))
	}
	// Without its definition the kind returns to its own layout.
	if changed := ConfigureTyped(typed, nil); !slices.Equal(changed, []string{"Bucket"}) || bucket.ReleaseLayout().ReleasePrefix != "bucket-" {
		t.Errorf("changed %v, prefix %q after the definition went", changed, bucket.ReleaseLayout().ReleasePrefix)
	}
}

func TestTypedLayoutsNeverShareAPrefix(t *testing.T) {
	defs := catalogDefinitions(t)
	typed := All()
	bucket, kubernetes, disk := byKind(t, typed, "Bucket"), byKind(t, typed, "Kubernetes"), byKind(t, typed, "VMDisk")
	cases := []struct {
		name    string
		defs    []*ApplicationDefinition
		taken   map[string]string
		want    map[*release.Kind]string
		refused []string
	}{
		{"onto another typed kind's own prefix", []*ApplicationDefinition{withRelease(defs["bucket"], "kubernetes-", nil)}, nil,
			map[*release.Kind]string{bucket: "bucket-", kubernetes: "kubernetes-"}, []string{"bucket"}},
		{"two kinds onto one new prefix", []*ApplicationDefinition{withRelease(defs["bucket"], "x-", nil), withRelease(defs["kubernetes"], "x-", nil)}, nil,
			map[*release.Kind]string{bucket: "bucket-", kubernetes: "kubernetes-"}, []string{"bucket", "kubernetes"}},
		{"a swap of prefixes", []*ApplicationDefinition{withRelease(defs["bucket"], "kubernetes-", nil), withRelease(defs["kubernetes"], "bucket-", nil)}, nil,
			map[*release.Kind]string{bucket: "kubernetes-", kubernetes: "bucket-"}, nil},
		{"a refusal that frees nothing", []*ApplicationDefinition{withRelease(defs["vm-disk"], "bucket-", nil), withRelease(defs["bucket"], "x-", nil), withRelease(defs["kubernetes"], "x-", nil)}, nil,
			map[*release.Kind]string{bucket: "bucket-", kubernetes: "kubernetes-", disk: "vm-disk-"}, []string{"bucket", "kubernetes", "vm-disk"}},
		{"onto a defined kind's prefix", []*ApplicationDefinition{withRelease(defs["bucket"], "postgres-", nil)}, map[string]string{"postgres-": "the ApplicationDefinition postgres"},
			map[*release.Kind]string{bucket: "bucket-"}, []string{"bucket"}},
		{"an invalid prefix", []*ApplicationDefinition{withRelease(defs["bucket"], "Not_A_Label", nil)}, nil,
			map[*release.Kind]string{bucket: "bucket-"}, []string{"bucket"}},
	}
	for _, tc := range cases {
		layouts, refused := TypedLayouts(typed, tc.defs, func(_ *ApplicationDefinition, prefix string) string { return tc.taken[prefix] })
		for k, want := range tc.want {
			got := k.Layout.ReleasePrefix
			if l := layouts[k]; l != nil {
				got = l.ReleasePrefix
			}
			if got != want {
				t.Errorf("%s: %s has prefix %q, want %q", tc.name, k.Kind, got, want)
			}
		}
		var names []string
		for name, err := range refused {
			if err == nil || err.Error() == "" {
				t.Errorf("%s: %s refused without a reason", tc.name, name)
			}
			names = append(names, name)
		}
		slices.Sort(names)
		if !slices.Equal(names, tc.refused) {
			t.Errorf("%s: refused %v, want %v", tc.name, names, tc.refused)
		}
	}
}
