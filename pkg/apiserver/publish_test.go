package apiserver

import (
	"maps"
	"slices"
	"testing"

	"github.com/cozystack/apps-apiserver/pkg/catalog"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// TestTypedLayoutFollowsPublishes checks that a typed kind's release layout follows its definition
// as the catalog publishes it: a new prefix converts releases anew and ends the kind's watches
// (their objects are other releases now), new labels only change what new releases get, and the
// kind returns to its own layout when the definition goes.
func TestTypedLayoutFollowsPublishes(t *testing.T) {
	bucket := kinds.Bucket()
	r := newKindRouter([]*release.Kind{bucket, kinds.Kubernetes()})
	var reconverts int
	var ended []string
	r.onKindsChanged = func(applicationKinds ...string) {
		reconverts++
		if !slices.Equal(applicationKinds, []string{bucket.ApplicationKind}) {
			t.Errorf("reconverted %v, want only %s", applicationKinds, bucket.ApplicationKind)
		}
	}
	r.onResourceGone = func(kind string) { ended = append(ended, kind) }

	moved := bucket.Layout
	moved.ReleasePrefix = "b-"
	r.publish(catalog.Published{TypedLayouts: map[string]*release.Layout{"buckets": &moved}})
	if bucket.ReleaseName("x") != "b-x" || reconverts != 1 || !slices.Equal(ended, []string{"Bucket"}) {
		t.Fatalf("after a new prefix: release name %q, %d reconversions, watches ended %v", bucket.ReleaseName("x"), reconverts, ended)
	}

	labelled := moved
	labelled.ReleaseLabels = map[string]string{"team": "storage"}
	r.publish(catalog.Published{TypedLayouts: map[string]*release.Layout{"buckets": &labelled}})
	if bucket.ReleaseLayout().ReleaseLabels["team"] != "storage" || reconverts != 1 || len(ended) != 1 {
		t.Fatalf("after new labels: labels %v, %d reconversions, watches ended %v", bucket.ReleaseLayout().ReleaseLabels, reconverts, ended)
	}

	r.publish(catalog.Published{})
	if bucket.ReleaseName("x") != "bucket-x" || reconverts != 2 || !slices.Equal(ended, []string{"Bucket", "Bucket"}) {
		t.Fatalf("after the definition went: release name %q, %d reconversions, watches ended %v", bucket.ReleaseName("x"), reconverts, ended)
	}
}

// TestChangedReleaseKinds: the application kinds the cache converts again are exactly those added,
// removed or described anew between two publishes.
func TestChangedReleaseKinds(t *testing.T) {
	kept, before, after, gone, added := &release.Kind{}, &release.Kind{}, &release.Kind{}, &release.Kind{}, &release.Kind{}
	got := changedReleaseKinds(
		map[string]*release.Kind{"Kept": kept, "Changed": before, "Gone": gone},
		map[string]*release.Kind{"Kept": kept, "Changed": after, "Added": added})
	if want := []string{"Added", "Changed", "Gone"}; !slices.Equal(slices.Sorted(maps.Keys(got)), want) {
		t.Errorf("changed %v, want %v", slices.Sorted(maps.Keys(got)), want)
	}
}
