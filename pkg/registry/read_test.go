package registry

import (
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	clienttesting "k8s.io/client-go/testing"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

func TestConsistentGetReadsKubeAPIServerNotTheCache(t *testing.T) {
	dyn := newFakeReleases(bucketRelease(t, "old", "5", &appsv1alpha1.BucketSpec{}))
	// The cache lists but never hears of a change: it stays at the initial list.
	dyn.PrependWatchReactor("helmreleases", func(clienttesting.Action) (bool, watch.Interface, error) {
		return true, watch.NewFake(), nil
	})
	r, ctx := newBucketRESTOn(t, dyn)
	written := bucketRelease(t, "new", "6", &appsv1alpha1.BucketSpec{Locking: true})
	if err := dyn.Tracker().Create(release.HelmReleaseGVR, written, "tenant"); err != nil {
		t.Fatal(err)
	}
	obj, err := r.Get(ctx, "new", &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("a GET without resourceVersion must see a release the cache has not seen: %v", err)
	}
	if b := obj.(*appsv1alpha1.Bucket); b.ResourceVersion != "6" || !b.Spec.Locking {
		t.Errorf("consistent GET: want the stored release at 6, got %s %+v", b.ResourceVersion, b.Spec)
	}
	if _, err := r.Get(ctx, "new", &metav1.GetOptions{ResourceVersion: "0"}); !apierrors.IsNotFound(err) {
		t.Errorf("a GET at resourceVersion 0 is served from the cache, which has not seen it: want 404, got %v", err)
	}
}

// BenchmarkListFromCache lists a namespace's fifty Buckets from the cache (resourceVersion=0, no
// upstream read): what the server itself spends on a list's objects, and allocates for them.
func BenchmarkListFromCache(b *testing.B) {
	var releases []runtime.Object
	for i := range 50 {
		releases = append(releases, bucketRelease(b, fmt.Sprintf("b%02d", i), fmt.Sprint(10+i), &appsv1alpha1.BucketSpec{Locking: true}))
	}
	r, ctx := newBucketREST(b, releases...)
	b.ReportAllocs()
	for b.Loop() {
		list, err := r.List(ctx, &metainternalversion.ListOptions{ResourceVersion: "0"})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(list.(*appsv1alpha1.BucketList).Items); n != 50 {
			b.Fatalf("listed %d Buckets, want 50", n)
		}
	}
}
