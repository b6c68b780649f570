package registry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/metadata"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/openapi"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/releasecache"
	"github.com/cozystack/apps-apiserver/pkg/validation"
)

// These tests drive the verbs' branches in milliseconds with client-go's dynamic and metadata
// fakes standing in for kube-apiserver; the e2e suite proves the same verbs through the real
// aggregator. The fakes keep resourceVersions as given, so releases are seeded with their own.

type allowAll struct{}

func (allowAll) AllowWrite(context.Context, schema.GroupResource, string, string) error { return nil }
func (allowAll) AllowChildTenant(context.Context, schema.GroupResource, string, string, string) error {
	return nil
}

// bucketRelease is a Bucket release as the server writes it, at resourceVersion rv.
func bucketRelease(t testing.TB, name, rv string, spec *appsv1alpha1.BucketSpec) *unstructured.Unstructured {
	t.Helper()
	k := kinds.Bucket()
	hr := k.NewRelease("tenant", name)
	obj := &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "tenant"}, Spec: spec}
	if err := k.ApplyTo(obj, hr); err != nil {
		t.Fatal(err)
	}
	hr.SetResourceVersion(rv)
	hr.SetUID(types.UID("uid-" + name))
	hr.SetGeneration(1)
	return hr
}

// newBucketREST serves Buckets from a fake kube-apiserver holding releases, with a running cache.
func newBucketREST(t testing.TB, releases ...runtime.Object) (*REST, context.Context) {
	t.Helper()
	return newBucketRESTOn(t, newFakeReleases(releases...))
}

// newFakeReleases is a fake kube-apiserver holding releases, for tests that add reactors to it.
func newFakeReleases(releases ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{release.HelmReleaseGVR: "HelmReleaseList"}, releases...)
}

// metadataOf serves kube-apiserver's metadata-only reads of releases from the fake's releases.
func metadataOf(dyn *dynamicfake.FakeDynamicClient) metadata.Getter {
	fake := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	fake.PrependReactor("get", "helmreleases", func(a clienttesting.Action) (bool, runtime.Object, error) {
		get := a.(clienttesting.GetAction)
		obj, err := dyn.Tracker().Get(release.HelmReleaseGVR, get.GetNamespace(), get.GetName())
		if err != nil {
			return true, nil, err
		}
		m := &metav1.PartialObjectMetadata{}
		u := obj.(*unstructured.Unstructured)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object["metadata"].(map[string]any), &m.ObjectMeta); err != nil {
			return true, nil, err
		}
		return true, m, nil
	})
	fake.PrependReactor("list", "helmreleases", func(a clienttesting.Action) (bool, runtime.Object, error) {
		listed, err := dyn.Tracker().List(release.HelmReleaseGVR, release.HelmReleaseGVK, a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		// The fake metadata client takes a metav1.List of PartialObjectMetadata and filters it.
		out := &metav1.List{}
		var newest uint64
		for _, item := range listed.(*unstructured.UnstructuredList).Items {
			m := &metav1.PartialObjectMetadata{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object["metadata"].(map[string]any), &m.ObjectMeta); err != nil {
				return true, nil, err
			}
			rv, _ := releasecache.ParseResourceVersion(m.ResourceVersion)
			newest = max(newest, rv)
			out.Items = append(out.Items, runtime.RawExtension{Object: m})
		}
		// The fake has no revision of its own: the list is as new as its newest release.
		out.ResourceVersion = strconv.FormatUint(newest, 10)
		return true, out, nil
	})
	return fake.Resource(release.HelmReleaseGVR)
}

// newBucketRESTOn serves Buckets from the fake kube-apiserver dyn, with a running cache.
func newBucketRESTOn(t testing.TB, dyn *dynamicfake.FakeDynamicClient) (*REST, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kind := kinds.Bucket()
	c := releasecache.New(func(hr *unstructured.Unstructured) (string, runtime.Object, bool) {
		if !kind.Owns(hr) {
			return "", nil, false
		}
		obj, err := kind.ToObject(appsv1alpha1.SchemeGroupVersion, hr)
		return kind.Kind, obj, err == nil || obj != nil
	}, 100, time.Minute)
	model, err := ModelName(kind.New())
	if err != nil {
		t.Fatal(err)
	}
	specSchema, err := validation.New(openapi.Definitions, model)
	if err != nil {
		t.Fatal(err)
	}
	kind.DefaultSpec = specSchema.Default
	// The cache starts once the kind is complete, as the server starts it after assembling kinds.
	client := dyn.Resource(release.HelmReleaseGVR)
	// The fake does not implement watch-list; the wrapper tells the reflector to list instead.
	go c.Run(ctx, cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return client.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return client.Watch(ctx, opts)
		},
	}, dyn))
	scheme := runtime.NewScheme()
	_ = appsv1alpha1.AddToScheme(scheme)
	r, err := NewREST(kind, appsv1alpha1.SchemeGroupVersion, scheme, specSchema, Backend{
		Cache: c, Releases: client, Gate: allowAll{},
		ReleaseMeta: metadataOf(dyn),
	})
	if err != nil {
		t.Fatal(err)
	}
	syncCtx, syncCancel := context.WithTimeout(ctx, 5*time.Second)
	defer syncCancel()
	if err := c.AwaitSynced(syncCtx); err != nil {
		t.Fatal("the cache did not sync from the fake")
	}
	return r, genericapirequest.WithNamespace(ctx, "tenant")
}

func TestUpdateNeedsTheResourceVersionItRead(t *testing.T) {
	r, ctx := newBucketREST(t, bucketRelease(t, "b", "5", &appsv1alpha1.BucketSpec{}))
	update := func(rv string) error {
		obj := &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "tenant", ResourceVersion: rv}, Spec: &appsv1alpha1.BucketSpec{Locking: true}}
		_, _, err := r.Update(ctx, "b", rest.DefaultUpdatedObjectInfo(obj), nil, nil, false, &metav1.UpdateOptions{})
		return err
	}
	if err := update(""); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.resourceVersion") {
		t.Errorf("update without resourceVersion: want 422 at metadata.resourceVersion, got %v", err)
	}
	if err := update("4"); !apierrors.IsConflict(err) {
		t.Errorf("update with a stale resourceVersion: want 409, got %v", err)
	}
	if _, _, err := r.Update(ctx, "missing", rest.DefaultUpdatedObjectInfo(&appsv1alpha1.Bucket{}), nil, nil, false, &metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("update of a missing object: want 404, got %v", err)
	}
}

func TestUnreadableReleasesRefuseUpdatesButNotReads(t *testing.T) {
	broken := bucketRelease(t, "broken", "7", &appsv1alpha1.BucketSpec{})
	_ = unstructured.SetNestedField(broken.Object, "everyone", "spec", "values", "users")
	r, ctx := newBucketREST(t, broken)
	got, err := r.Get(ctx, "broken", &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("GET of an unreadable release: %v", err)
	}
	if c := got.(*appsv1alpha1.Bucket).Status.Conditions; len(c) == 0 || c[0].Reason != release.ReasonUnreadableValues {
		t.Errorf("conditions: %+v", c)
	}
	obj := got.DeepCopyObject().(*appsv1alpha1.Bucket)
	obj.Labels = map[string]string{"a": "b"}
	if _, _, err := r.Update(ctx, "broken", rest.DefaultUpdatedObjectInfo(obj), nil, nil, false, &metav1.UpdateOptions{}); !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "only be deleted") {
		t.Errorf("update of an unreadable release: want 409, got %v", err)
	}
}

func TestReleasesOfOtherKindsAreNotFound(t *testing.T) {
	// A release under the Bucket prefix but labelled for another kind is not a Bucket.
	other := bucketRelease(t, "x", "3", &appsv1alpha1.BucketSpec{})
	labels := other.GetLabels()
	labels[release.LabelApplicationKind] = "VMDisk"
	other.SetLabels(labels)
	r, ctx := newBucketREST(t, other)
	if _, err := r.Get(ctx, "x", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("GET: want 404, got %v", err)
	}
	if _, _, err := r.Delete(ctx, "x", nil, &metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("DELETE: want 404, got %v", err)
	}
}

func TestListPagesAndContinueTokens(t *testing.T) {
	r, ctx := newBucketREST(t, bucketRelease(t, "a", "2", nil), bucketRelease(t, "b", "3", nil), bucketRelease(t, "c", "4", nil))
	list, err := r.List(ctx, &metainternalversion.ListOptions{Limit: 2, ResourceVersion: "4"})
	if err != nil {
		t.Fatal(err)
	}
	page := list.(*appsv1alpha1.BucketList)
	if len(page.Items) != 2 || page.Continue == "" || page.RemainingItemCount == nil || *page.RemainingItemCount != 1 {
		t.Fatalf("first page: %d items, continue %q, remaining %v", len(page.Items), page.Continue, page.RemainingItemCount)
	}
	next, err := r.List(ctx, &metainternalversion.ListOptions{Limit: 2, Continue: page.Continue})
	if err != nil {
		t.Fatal(err)
	}
	if items := next.(*appsv1alpha1.BucketList).Items; len(items) != 1 || items[0].Name != "c" {
		t.Errorf("second page: %+v", items)
	}
	if _, err := r.List(ctx, &metainternalversion.ListOptions{Limit: 2, Continue: "garbage"}); !apierrors.IsBadRequest(err) {
		t.Errorf("invalid continue token: want 400, got %v", err)
	}
	// As kube-apiserver: a continued list takes its version from the token alone.
	if _, err := r.List(ctx, &metainternalversion.ListOptions{Limit: 2, Continue: page.Continue, ResourceVersion: "4"}); !apierrors.IsBadRequest(err) ||
		!strings.Contains(err.Error(), "specifying resource version is not allowed when using continue") {
		t.Errorf("continue with a resourceVersion: want 400, got %v", err)
	}
}

// As kube-apiserver's watch cache: a list of any state (resourceVersion=0) is one page whatever
// the limit.
func TestListOfAnyStateIgnoresTheLimit(t *testing.T) {
	r, ctx := newBucketREST(t, bucketRelease(t, "a", "2", nil), bucketRelease(t, "b", "3", nil), bucketRelease(t, "c", "4", nil))
	list, err := r.List(ctx, &metainternalversion.ListOptions{Limit: 1, ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if page := list.(*appsv1alpha1.BucketList); len(page.Items) != 3 || page.Continue != "" {
		t.Errorf("resourceVersion=0&limit=1: %d items, continue %q", len(page.Items), page.Continue)
	}
}

// As kube-apiserver reading etcd: a full page gets a continue token when any object follows it,
// even one the selector leaves out, so the last page may be empty; a page that is not full ends
// the list.
func TestListContinuesPastObjectsTheSelectorLeavesOut(t *testing.T) {
	r, ctx := newBucketREST(t, bucketRelease(t, "a", "2", nil), bucketRelease(t, "b", "3", nil), bucketRelease(t, "c", "4", nil))
	selector := fields.OneTermNotEqualSelector("metadata.name", "c")
	var pages []string
	opts := &metainternalversion.ListOptions{Limit: 2, ResourceVersion: "4", FieldSelector: selector}
	for range 5 {
		list, err := r.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		page := list.(*appsv1alpha1.BucketList)
		var names []string
		for _, b := range page.Items {
			names = append(names, b.Name)
		}
		pages = append(pages, fmt.Sprintf("%v %t", names, page.Continue != ""))
		if page.RemainingItemCount != nil {
			t.Errorf("a count of remaining items with a selector: %d", *page.RemainingItemCount)
		}
		if page.Continue == "" {
			break
		}
		opts = &metainternalversion.ListOptions{Limit: 2, Continue: page.Continue, FieldSelector: selector}
	}
	if got, want := strings.Join(pages, " | "), "[a b] true | [] false"; got != want {
		t.Errorf("pages %s, want %s", got, want)
	}
}

func TestImmediateDryRunDeleteAnswersAStatus(t *testing.T) {
	r, ctx := newBucketREST(t, bucketRelease(t, "d", "9", nil))
	got, deleted, err := r.Delete(ctx, "d", nil, &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
	status, ok := got.(*metav1.Status)
	if err != nil || !deleted || !ok || status.Details.Name != "d" || status.Details.UID != "uid-d" {
		t.Errorf("dry-run delete: %v %v %+v", err, deleted, got)
	}
	if _, err := r.Get(ctx, "d", &metav1.GetOptions{}); err != nil {
		t.Errorf("a dry-run delete deleted: %v", err)
	}
}

// A dry-run delete of an object finalizers hold answers it as the delete would leave it, marked
// for deletion, and stores nothing, as kube-apiserver does.
func TestDryRunDeleteOfAHeldObjectAnswersItMarked(t *testing.T) {
	hr := bucketRelease(t, "held", "9", nil)
	hr.SetFinalizers([]string{"example.com/hold"})
	r, ctx := newBucketREST(t, hr)
	got, deleted, err := r.Delete(ctx, "held", nil, &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || deleted {
		t.Fatalf("dry-run delete: %v, deleted %v", err, deleted)
	}
	marked, ok := got.(*appsv1alpha1.Bucket)
	if !ok || marked.DeletionTimestamp == nil || marked.DeletionGracePeriodSeconds == nil || *marked.DeletionGracePeriodSeconds != 0 {
		t.Fatalf("dry-run delete answered %+v, want the object marked for deletion", got)
	}
	stored, err := r.Get(ctx, "held", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b := stored.(*appsv1alpha1.Bucket); b.DeletionTimestamp != nil || marked.Generation != b.Generation+1 {
		t.Errorf("stored: deleting %v generation %d; answered generation %d", b.DeletionTimestamp != nil, b.Generation, marked.Generation)
	}
}

func TestDeletePreconditions(t *testing.T) {
	r, ctx := newBucketREST(t, bucketRelease(t, "p", "11", nil))
	wrongUID := types.UID("someone-else")
	if _, _, err := r.Delete(ctx, "p", nil, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrongUID}}); !apierrors.IsConflict(err) {
		t.Errorf("uid precondition of another object: want 409, got %v", err)
	}
	staleRV := "10"
	if _, _, err := r.Delete(ctx, "p", nil, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &staleRV}}); !apierrors.IsConflict(err) {
		t.Errorf("stale resourceVersion precondition: want 409, got %v", err)
	}
	if _, err := r.Get(ctx, "p", &metav1.GetOptions{}); err != nil {
		t.Errorf("a refused delete deleted: %v", err)
	}
}

func TestWatchResourceVersionEdges(t *testing.T) {
	r, ctx := newBucketREST(t, bucketRelease(t, "w", "12", nil))
	if _, err := r.Watch(ctx, &metainternalversion.ListOptions{ResourceVersion: "abc"}); !apierrors.IsBadRequest(err) {
		t.Errorf("malformed resourceVersion: want 400, got %v", err)
	}
	w, err := r.Watch(ctx, &metainternalversion.ListOptions{ResourceVersion: "18446744073709551615"})
	if err != nil {
		t.Fatalf("a watch from the largest resourceVersion is established: %v", err)
	}
	defer w.Stop()
	select {
	case e := <-w.ResultChan():
		t.Errorf("a watch from the future delivered %s", e.Type)
	case <-time.After(100 * time.Millisecond):
	}
	w2, err := r.Watch(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	select {
	case e := <-w2.ResultChan():
		if e.Type != watch.Added {
			t.Errorf("a watch without resourceVersion starts with the current state, got %s", e.Type)
		}
	case <-time.After(5 * time.Second):
		t.Error("no initial event")
	}
}

func TestDeleteWithoutFinalizersAnswersAtOnceAndRetriesAfterARace(t *testing.T) {
	dyn := newFakeReleases(bucketRelease(t, "gone", "13", nil))
	r, ctx := newBucketRESTOn(t, dyn)
	// The release is written between the read and the delete, once: the immediate delete is
	// pinned to the version it read, so it loses and reads again.
	var raced atomic.Int32
	dyn.PrependReactor("delete", "helmreleases", func(a clienttesting.Action) (bool, runtime.Object, error) {
		opts := a.(clienttesting.DeleteActionImpl).DeleteOptions
		if opts.Preconditions == nil || opts.Preconditions.ResourceVersion == nil || opts.Preconditions.UID == nil {
			t.Errorf("an immediate delete must be pinned to the uid and version it read: %+v", opts.Preconditions)
		}
		if raced.Add(1) == 1 {
			return true, nil, apierrors.NewConflict(release.HelmReleaseGVR.GroupResource(), "bucket-gone", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	got, deleted, err := r.Delete(ctx, "gone", nil, &metav1.DeleteOptions{})
	status, ok := got.(*metav1.Status)
	if err != nil || !deleted || !ok || status.Status != metav1.StatusSuccess || status.Details.Name != "gone" {
		t.Fatalf("delete of a release without finalizers: want a Success status, got %v %v %+v", err, deleted, got)
	}
	if raced.Load() != 2 {
		t.Errorf("want the delete retried once after losing the race, %d attempts", raced.Load())
	}
	if _, err := r.Get(ctx, "gone", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a consistent read after the delete: want 404, got %v", err)
	}
}

func TestWatchWithoutResourceVersionStartsFromAConsistentState(t *testing.T) {
	dyn := newFakeReleases()
	// The cache's upstream watch delivers nothing after the initial list: it lags behind writes.
	dyn.PrependWatchReactor("helmreleases", func(clienttesting.Action) (bool, watch.Interface, error) {
		return true, watch.NewFake(), nil
	})
	r, ctx := newBucketRESTOn(t, dyn)
	// A write acknowledged to someone (another replica, another client) that this cache has not
	// seen.
	if err := dyn.Tracker().Add(bucketRelease(t, "late", "20", nil)); err != nil {
		t.Fatal(err)
	}
	yes := true
	for _, opts := range []*metainternalversion.ListOptions{
		{SendInitialEvents: &yes, AllowWatchBookmarks: true, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan},
		{},
	} {
		w, err := r.Watch(ctx, opts)
		if err == nil {
			// Starting from a state without the acknowledged write would hide it from the client.
			w.Stop()
			t.Fatalf("a watch without resourceVersion (%+v) started from a cache that lacks an acknowledged write", opts)
		}
		if !apierrors.IsTimeout(err) {
			t.Errorf("want a 504 while the cache cannot catch up, got %v", err)
		}
	}
}

// TestDeleteThatAlwaysLosesTheRaceStillDeletes: while the release is written between every read
// and delete (Flux's status writes), an unconditional delete does not end in a 409, as it never
// does in kube-apiserver: its last attempt deletes the same release without pinning the version.
func TestDeleteThatAlwaysLosesTheRaceStillDeletes(t *testing.T) {
	dyn := newFakeReleases(bucketRelease(t, "busy", "13", nil))
	r, ctx := newBucketRESTOn(t, dyn)
	var pinned, unpinned atomic.Int32
	dyn.PrependReactor("delete", "helmreleases", func(a clienttesting.Action) (bool, runtime.Object, error) {
		opts := a.(clienttesting.DeleteActionImpl).DeleteOptions
		if opts.Preconditions == nil || opts.Preconditions.UID == nil {
			t.Errorf("a delete must always be pinned to the uid it read: %+v", opts.Preconditions)
		}
		if opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil {
			pinned.Add(1)
			return true, nil, apierrors.NewConflict(release.HelmReleaseGVR.GroupResource(), "bucket-busy", errors.New("the object has been modified"))
		}
		unpinned.Add(1)
		return false, nil, nil
	})
	got, deleted, err := r.Delete(ctx, "busy", nil, &metav1.DeleteOptions{})
	status, ok := got.(*metav1.Status)
	if err != nil || !deleted || !ok || status.Status != metav1.StatusSuccess {
		t.Fatalf("an unconditional delete that keeps losing the race: want a Success status, got %v %v %+v", err, deleted, got)
	}
	if pinned.Load() != maxUpdateAttempts-1 || unpinned.Load() != 1 {
		t.Errorf("attempts: %d pinned to the version, %d not; want %d and 1", pinned.Load(), unpinned.Load(), maxUpdateAttempts-1)
	}
	// A client that pinned a version gets the conflict, as from kube-apiserver.
	dyn2 := newFakeReleases(bucketRelease(t, "pinned", "13", nil))
	r2, ctx2 := newBucketRESTOn(t, dyn2)
	dyn2.PrependReactor("delete", "helmreleases", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(release.HelmReleaseGVR.GroupResource(), "bucket-pinned", errors.New("the object has been modified"))
	})
	rv := "13"
	if _, _, err := r2.Delete(ctx2, "pinned", nil, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}}); !apierrors.IsConflict(err) {
		t.Errorf("a pinned delete that lost the race: want 409, got %v", err)
	}
}
