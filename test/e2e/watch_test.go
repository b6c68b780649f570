package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/generated/informers/externalversions"
	"github.com/cozystack/apps-apiserver/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
)

// Watch behaviour: resume from a resourceVersion, expiry, label and field selector transitions,
// WatchList and bookmarks, informers, and the single upstream watch behind every client watch.
// TestSemantics* run the same steps on the apps.cozy.io kind and its CRD twin (see compare).

func TestSemanticsWatchFromResourceVersion(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		list, err := c.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		mustCreate(t, c, tg.object("w"))
		if _, err := c.Patch(ctx, "w", types.MergePatchType, []byte(`{"spec":{"locking":true}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, "w", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// Everything happened before the watch was opened: all of it must be replayed.
		w, err := c.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		for _, want := range []watch.EventType{watch.Added, watch.Modified, watch.Deleted} {
			expectEvent(t, w, want, "w")
		}

	})
}

func TestSemanticsWatchTooOld(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		w, err := c.Watch(context.Background(), metav1.ListOptions{ResourceVersion: "1"})
		if err != nil {
			if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
				t.Fatalf("watch from resourceVersion 1: want 410, got %v", err)
			}
			return
		}
		defer w.Stop()
		select {
		case e := <-w.ResultChan():
			status, ok := e.Object.(*metav1.Status)
			if e.Type != watch.Error || !ok || status.Code != 410 {
				t.Fatalf("watch from resourceVersion 1: want a 410 error event, got %s %v", e.Type, e.Object)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("watch from resourceVersion 1 neither failed nor reported expiry")
		}
	})
}

func TestSemanticsWatchSelectorTransitions(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		list, err := c.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := c.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion(), LabelSelector: "color=blue"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		obj := tg.object("chameleon")
		obj.SetLabels(map[string]string{"color": "red"})
		mustCreate(t, c, obj)
		for _, color := range []string{"blue", "red"} {
			if _, err := c.Patch(ctx, "chameleon", types.MergePatchType, []byte(`{"metadata":{"labels":{"color":"`+color+`"}}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		expectEvent(t, w, watch.Added, "chameleon")
		expectEvent(t, w, watch.Deleted, "chameleon")
	})
}

func TestSemanticsWatchFieldSelector(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		list, err := c.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := c.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion(), FieldSelector: "metadata.name=wanted"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		mustCreate(t, c, tg.object("unwanted"))
		mustCreate(t, c, tg.object("wanted"))
		expectEvent(t, w, watch.Added, "wanted")
	})
}

func TestSemanticsWatchList(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		for _, name := range []string{"one", "two"} {
			mustCreate(t, c, tg.object(name))
		}
		sendInitialEvents := true
		w, err := c.Watch(ctx, metav1.ListOptions{SendInitialEvents: &sendInitialEvents, AllowWatchBookmarks: true,
			ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		added := map[string]bool{}
		deadline := time.After(10 * time.Second)
		for {
			select {
			case e := <-w.ResultChan():
				obj, _ := e.Object.(*unstructured.Unstructured)
				switch {
				case obj == nil:
					t.Fatalf("unexpected %s %v", e.Type, e.Object)
				case e.Type == watch.Added:
					added[obj.GetName()] = true
				case e.Type == watch.Bookmark && obj.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true":
					if !added["one"] || !added["two"] || len(added) != 2 || obj.GetResourceVersion() == "" {
						t.Errorf("initial events %v, end bookmark at resourceVersion %q", added, obj.GetResourceVersion())
					}
					return
				case e.Type == watch.Bookmark:
					// A progress bookmark before the end of the initial events is allowed.
				default:
					t.Fatalf("unexpected %s %s during the initial events", e.Type, obj.GetName())
				}
			case <-deadline:
				t.Fatalf("no initial-events-end bookmark; added %v", added)
			}
		}
	})
}

// TestBookmarks checks that a watch that allows bookmarks receives them while idle.
func TestBookmarks(t *testing.T) {
	ns := newTenant(t)
	list, err := cp.Apps.AppsV1alpha1().Buckets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cp.Apps.AppsV1alpha1().Buckets(ns).Watch(context.Background(), metav1.ListOptions{ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case e := <-w.ResultChan():
		b, ok := e.Object.(*appsv1alpha1.Bucket)
		if e.Type != watch.Bookmark || !ok || b.ResourceVersion == "" {
			t.Errorf("want a bookmark with a resourceVersion, got %s %v", e.Type, e.Object)
		}
	case <-time.After(10 * time.Second):
		t.Error("no bookmark within 10s (the test server sends them every second)")
	}
}

// TestInformerSyncsAndFollows runs a client-go informer (which uses WatchList: sendInitialEvents
// and the initial-events-end bookmark) and checks it syncs and sees adds, updates and deletes.
func TestInformerSyncsAndFollows(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := newTenant(t)
	buckets := cp.Apps.AppsV1alpha1().Buckets(ns)
	pre := &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: "existing"}, Spec: &appsv1alpha1.BucketSpec{StoragePool: "default"}}
	if _, err := buckets.Create(ctx, pre, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	factory := externalversions.NewSharedInformerFactoryWithOptions(cp.Apps, 0, externalversions.WithNamespace(ns))
	informer := factory.Apps().V1alpha1().Buckets().Informer()
	var mu sync.Mutex
	seen := map[string][]string{}
	record := func(kind string) func(obj any) {
		return func(obj any) {
			if b, ok := obj.(*appsv1alpha1.Bucket); ok {
				mu.Lock()
				seen[b.Name] = append(seen[b.Name], kind)
				mu.Unlock()
			}
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    record("add"),
		UpdateFunc: func(_, obj any) { record("update")(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			record("delete")(obj)
		},
	}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	syncCtx, syncCancel := context.WithTimeout(ctx, 20*time.Second)
	defer syncCancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), informer.HasSynced) {
		t.Fatal("informer did not sync within 20s")
	}

	b := &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: "new"}, Spec: &appsv1alpha1.BucketSpec{StoragePool: "default"}}
	created, err := buckets.Create(ctx, b, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Spec.Locking = true
	if _, err := buckets.Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := buckets.Delete(ctx, "new", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "informer sees add, update, delete", func(context.Context) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		got := seen["new"]
		return len(got) == 3 && got[0] == "add" && got[1] == "update" && got[2] == "delete" && len(seen["existing"]) == 1, nil
	})
}

// TestOneUpstreamWatch opens many client watches over every kind and checks kube-apiserver still
// serves the server exactly one HelmRelease watch.
func TestOneUpstreamWatch(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	// helm-controller watches HelmReleases too: what the clients' watches must not change is the
	// count before them, which holds the server's one watch.
	before, err := cp.UpstreamWatches(ctx, release.HelmReleaseGVR.GroupResource())
	if err != nil {
		t.Fatal(err)
	}
	if before < 1 {
		t.Fatalf("%d HelmRelease watches before any client watch: the server holds none", before)
	}
	for i := 0; i < 10; i++ {
		for _, w := range []func() (watch.Interface, error){
			func() (watch.Interface, error) {
				return cp.Apps.AppsV1alpha1().Buckets(ns).Watch(ctx, metav1.ListOptions{})
			},
			func() (watch.Interface, error) {
				return cp.Apps.AppsV1alpha1().Kuberneteses("").Watch(ctx, metav1.ListOptions{})
			},
			func() (watch.Interface, error) {
				return cp.Apps.AppsV1alpha1().VirtualMachines(ns).Watch(ctx, metav1.ListOptions{})
			},
		} {
			watcher, err := w()
			if err != nil {
				t.Fatal(err)
			}
			defer watcher.Stop()
		}
	}
	// Every Watch call above returned once the server had accepted the watch.
	after, err := cp.UpstreamWatches(ctx, release.HelmReleaseGVR.GroupResource())
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("HelmRelease watches at kube-apiserver: %d before 30 client watches, %d with them", before, after)
	}
}

// TestSemanticsWatchWithAnExpiredTimeout: a watch whose timeoutSeconds has passed before it could
// start (timeoutSeconds=-1, from "" and from "0") answers as kube-apiserver answers for a CRD: 200,
// and a body that is empty or the one ERROR event saying the context's deadline passed (which of
// the two is kube-apiserver's own race between the expired timeout and the event, so both
// targets are asked ten times and every answer must be one of those two).
func TestSemanticsWatchWithAnExpiredTimeout(t *testing.T) {
	const expired = `{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"context deadline exceeded","reason":"InternalError","code":500}}` + "\n"
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		for _, rv := range []string{"", "0"} {
			for range 10 {
				req := cp.Kube.Discovery().RESTClient().Get().AbsPath("/apis/"+tg.resource.Group+"/v1alpha1/namespaces/"+ns+"/buckets").
					Param("watch", "true").Param("timeoutSeconds", "-1")
				if rv != "" {
					req = req.Param("resourceVersion", rv)
				}
				res := req.Do(context.Background())
				var code int
				res.StatusCode(&code)
				raw, _ := res.Raw()
				if code != 200 || (len(raw) > 0 && string(raw) != expired) {
					t.Errorf("watch from %q with timeoutSeconds=-1: %d %s", rv, code, raw)
				}
			}
		}
	})
}
