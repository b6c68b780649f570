package registry

import (
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
