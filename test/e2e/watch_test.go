package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/generated/informers/externalversions"

	"k8s.io/utils/ptr"
)

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

// TestWatchResumesFromResourceVersion checks that a watch started from a list's resourceVersion
// delivers the changes made after the list, including a deletion that happened before the watch
// was opened.
func TestWatchResumesFromResourceVersion(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	vms := cp.Apps.AppsV1alpha1().VirtualMachines(ns)
	vm := &appsv1alpha1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "gone"},
		Spec:       &appsv1alpha1.VirtualMachineSpec{InstanceType: ptr.To("u1.small")},
	}
	if _, err := vms.Create(ctx, vm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := vms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := vms.Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := vms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case e := <-w.ResultChan():
		got, ok := e.Object.(*appsv1alpha1.VirtualMachine)
		if e.Type != "DELETED" || !ok || got.Name != "gone" {
			t.Fatalf("want DELETED gone, got %s %v", e.Type, e.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the deletion between list and watch was not delivered")
	}
}

// TestWatchListInitialEvents checks the WatchList protocol informers rely on: the current state as
// ADDED events, then a bookmark annotated as the end of the initial events.
func TestWatchListInitialEvents(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	buckets := cp.Apps.AppsV1alpha1().Buckets(ns)
	for _, name := range []string{"one", "two"} {
		b := &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := buckets.Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	sendInitialEvents := true
	w, err := buckets.Watch(ctx, metav1.ListOptions{
		SendInitialEvents:    &sendInitialEvents,
		AllowWatchBookmarks:  true,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	added := map[string]bool{}
	for {
		select {
		case e := <-w.ResultChan():
			b, ok := e.Object.(*appsv1alpha1.Bucket)
			if !ok {
				t.Fatalf("unexpected event %s %T", e.Type, e.Object)
			}
			switch e.Type {
			case "ADDED":
				added[b.Name] = true
			case "BOOKMARK":
				if b.Annotations[metav1.InitialEventsAnnotationKey] != "true" || b.ResourceVersion == "" {
					t.Fatalf("bookmark without the initial-events-end annotation: %+v", b.ObjectMeta)
				}
				if !added["one"] || !added["two"] || len(added) != 2 {
					t.Fatalf("initial events before the bookmark: %v", added)
				}
				return
			default:
				t.Fatalf("unexpected %s during initial events", e.Type)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no initial-events-end bookmark; saw %v", added)
		}
	}
}
