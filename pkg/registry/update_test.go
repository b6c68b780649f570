package registry

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// raceOnPatch makes the first `times` patches of a release lose a race: before failing the patch
// with a conflict, another writer changes the release's labels at a new resourceVersion, as a
// user's write between the server's read and its conditional patch would. patches counts every
// patch the server sends.
func raceOnPatch(dyn *dynamicfake.FakeDynamicClient, times int32, patches *atomic.Int32) {
	var rv atomic.Int32
	rv.Store(100)
	dyn.PrependReactor("patch", "helmreleases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		if patches.Add(1) > times {
			return false, nil, nil
		}
		patch := action.(clienttesting.PatchAction)
		current, err := dyn.Tracker().Get(release.HelmReleaseGVR, patch.GetNamespace(), patch.GetName())
		if err != nil {
			return true, nil, err
		}
		moved := current.(*unstructured.Unstructured).DeepCopy()
		labels := moved.GetLabels()
		labels["other-writer"] = "was-here"
		moved.SetLabels(labels)
		moved.SetResourceVersion(strconv.Itoa(int(rv.Add(1))))
		if err := dyn.Tracker().Update(release.HelmReleaseGVR, moved, patch.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, nil, apierrors.NewConflict(release.HelmReleaseGVR.GroupResource(), patch.GetName(), nil)
	})
}

// enableLocking is a change applied to whatever the server read, as a patch is: it never carries
// a stale resourceVersion of its own.
func enableLocking() rest.UpdatedObjectInfo {
	return rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		b := old.DeepCopyObject().(*appsv1alpha1.Bucket)
		b.Spec.Locking = true
		return b, nil
	})
}

func storedLocking(t *testing.T, dyn *dynamicfake.FakeDynamicClient) bool {
	t.Helper()
	stored, err := dyn.Tracker().Get(release.HelmReleaseGVR, "tenant", "bucket-b")
	if err != nil {
		t.Fatal(err)
	}
	locking, _, _ := unstructured.NestedBool(stored.(*unstructured.Unstructured).Object, "spec", "values", "locking")
	return locking
}

func TestUpdateReappliesAPatchAfterALostRace(t *testing.T) {
	dyn := newFakeReleases(bucketRelease(t, "b", "5", &appsv1alpha1.BucketSpec{}))
	var patches atomic.Int32
	raceOnPatch(dyn, 2, &patches)
	r, ctx := newBucketRESTOn(t, dyn)
	if _, _, err := r.Update(ctx, "b", enableLocking(), nil, nil, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatalf("a patch that lost two races is applied on the third attempt: %v", err)
	}
	if got := patches.Load(); got != 3 {
		t.Errorf("patches sent: want 3 (two lost races, one write), got %d", got)
	}
	if !storedLocking(t, dyn) {
		t.Error("the change is not in the stored release")
	}
}

func TestUpdateWithAResourceVersionFailsAfterALostRace(t *testing.T) {
	dyn := newFakeReleases(bucketRelease(t, "b", "5", &appsv1alpha1.BucketSpec{}))
	var patches atomic.Int32
	raceOnPatch(dyn, 1, &patches)
	r, ctx := newBucketRESTOn(t, dyn)
	obj := &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "tenant", ResourceVersion: "5"}, Spec: &appsv1alpha1.BucketSpec{Locking: true}}
	_, _, err := r.Update(ctx, "b", rest.DefaultUpdatedObjectInfo(obj), nil, nil, false, &metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("an update of resourceVersion 5 after another writer moved the release: want 409, got %v", err)
	}
	if got := patches.Load(); got != 1 {
		t.Errorf("patches sent: want 1 (the re-read finds the client's version stale), got %d", got)
	}
	if storedLocking(t, dyn) {
		t.Error("a refused update changed the stored release")
	}
}

func TestUpdateGivesUpAfterMaxAttempts(t *testing.T) {
	dyn := newFakeReleases(bucketRelease(t, "b", "5", &appsv1alpha1.BucketSpec{}))
	var patches atomic.Int32
	raceOnPatch(dyn, 1000, &patches)
	r, ctx := newBucketRESTOn(t, dyn)
	_, _, err := r.Update(ctx, "b", enableLocking(), nil, nil, false, &metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("a release that moves on every attempt: want 409, got %v", err)
	}
	if got := patches.Load(); got != maxUpdateAttempts {
		t.Errorf("patches sent: want %d, got %d", maxUpdateAttempts, got)
	}
}
