package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

func TestSemanticsListSelectorsAndPages(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		for i := 0; i < 5; i++ {
			obj := tg.object(fmt.Sprintf("b%d", i))
			if i < 2 {
				obj.SetLabels(map[string]string{"color": "blue"})
				_ = unstructured.SetNestedField(obj.Object, "fast", "spec", "storagePool")
			}
			mustCreate(t, c, obj)
		}
		count := func(opts metav1.ListOptions) int {
			t.Helper()
			list, err := c.List(ctx, opts)
			if err != nil {
				t.Fatalf("list %+v: %v", opts, err)
			}
			return len(list.Items)
		}
		if n := count(metav1.ListOptions{LabelSelector: "color=blue"}); n != 2 {
			t.Errorf("label selector: %d items", n)
		}
		if n := count(metav1.ListOptions{LabelSelector: "color!=blue"}); n != 3 {
			t.Errorf("negative label selector: %d items", n)
		}
		if n := count(metav1.ListOptions{FieldSelector: "metadata.name=b3"}); n != 1 {
			t.Errorf("metadata.name field selector: %d items", n)
		}
		if n := count(metav1.ListOptions{FieldSelector: "metadata.namespace=" + ns}); n != 5 {
			t.Errorf("metadata.namespace field selector: %d items", n)
		}
		if n := count(metav1.ListOptions{FieldSelector: "spec.storagePool=fast"}); n != 2 {
			t.Errorf("declared spec field selector: %d items", n)
		}
		if _, err := c.List(ctx, metav1.ListOptions{FieldSelector: "spec.locking=false"}); !apierrors.IsBadRequest(err) {
			t.Errorf("undeclared field selector: want 400, got %v", err)
		}

		seen := map[string]bool{}
		opts := metav1.ListOptions{Limit: 2}
		for pages := 1; ; pages++ {
			list, err := c.List(ctx, opts)
			if err != nil {
				t.Fatalf("page %d: %v", pages, err)
			}
			if len(list.Items) > 2 {
				t.Fatalf("page %d has %d items over the limit", pages, len(list.Items))
			}
			for _, item := range list.Items {
				if seen[item.GetName()] {
					t.Errorf("%s returned twice", item.GetName())
				}
				seen[item.GetName()] = true
			}
			if list.GetContinue() == "" {
				if pages != 3 {
					t.Errorf("%d pages, want 3", pages)
				}
				break
			}
			if rem := list.GetRemainingItemCount(); rem == nil || *rem != int64(5-2*pages) {
				t.Errorf("page %d remainingItemCount = %v", pages, rem)
			}
			opts.Continue = list.GetContinue()
		}
		if len(seen) != 5 {
			t.Errorf("pagination returned %d of 5 objects", len(seen))
		}
		if _, err := c.List(ctx, metav1.ListOptions{Limit: 2, Continue: "not-a-token"}); !apierrors.IsBadRequest(err) {
			t.Errorf("invalid continue token: want 400, got %v", err)
		}
	})
}

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
					if len(added) != 2 {
						t.Errorf("initial events: %v", added)
					}
					return
				}
			case <-deadline:
				t.Fatalf("no initial-events-end bookmark; added %v", added)
			}
		}
	})
}

// TestSemanticsReadYourWrites writes and immediately reads, hundreds of times.
func TestSemanticsReadYourWrites(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		mustCreate(t, c, tg.object("ryw"))
		for i := 0; i < 200; i++ {
			value := fmt.Sprint(i)
			written, err := c.Patch(ctx, "ryw", types.MergePatchType, []byte(`{"metadata":{"labels":{"i":"`+value+`"}}}`), metav1.PatchOptions{})
			if err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
			got := mustGet(t, c, "ryw")
			if got.GetLabels()["i"] != value || got.GetResourceVersion() != written.GetResourceVersion() {
				t.Fatalf("read after write %d saw label %q rv %s (wrote rv %s)", i, got.GetLabels()["i"], got.GetResourceVersion(), written.GetResourceVersion())
			}
			if i%10 == 0 {
				list, err := c.List(ctx, metav1.ListOptions{})
				if err != nil || len(list.Items) != 1 || list.Items[0].GetLabels()["i"] != value {
					t.Fatalf("list after write %d: %v %v", i, err, list)
				}
				cached, err := c.Get(ctx, "ryw", metav1.GetOptions{ResourceVersion: "0"})
				if err != nil || cached.GetLabels()["i"] != value {
					t.Fatalf("resourceVersion=0 read after write %d: %v", i, err)
				}
			}
		}
	})
}

func TestSemanticsResourceVersionMatch(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		created := mustCreate(t, c, tg.object("rv"))
		list, err := c.List(ctx, metav1.ListOptions{ResourceVersion: created.GetResourceVersion(), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
		if err != nil || len(list.Items) != 1 {
			t.Fatalf("list not older than the create: %v", err)
		}
		if _, err := c.Get(ctx, "rv", metav1.GetOptions{ResourceVersion: created.GetResourceVersion()}); err != nil {
			t.Errorf("get not older than the create: %v", err)
		}
		// A raw request: client-go would retry the 504 it expects for ten seconds.
		path := "/apis/" + tg.resource.GroupVersion().String() + "/namespaces/" + ns + "/" + tg.resource.Resource
		err = cp.Kube.Discovery().RESTClient().Get().AbsPath(path).MaxRetries(0).
			Param("resourceVersion", "999999999").Param("resourceVersionMatch", "NotOlderThan").Do(ctx).Error()
		if !apierrors.IsTimeout(err) {
			t.Errorf("list at a resourceVersion from the future: want 504, got %v", err)
		}
		if _, err := c.List(ctx, metav1.ListOptions{ResourceVersion: "abc", ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan}); !apierrors.IsBadRequest(err) && !apierrors.IsInvalid(err) {
			t.Errorf("malformed resourceVersion: want 400 or 422, got %v", err)
		}
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

// TestSemanticsPagesAreOneSnapshot: every page of a paged list shows the state at the first page's
// resourceVersion, whatever changes meanwhile, and an Exact list reads an earlier state.
func TestSemanticsPagesAreOneSnapshot(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		for i := 0; i < 5; i++ {
			mustCreate(t, c, tg.object(fmt.Sprintf("p%d", i)))
		}
		first, err := c.List(ctx, metav1.ListOptions{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, "p4", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, c, tg.object("p9"))
		if _, err := c.Patch(ctx, "p3", types.MergePatchType, []byte(`{"metadata":{"labels":{"late":"yes"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, item := range first.Items {
			names = append(names, item.GetName())
		}
		opts := metav1.ListOptions{Limit: 2, Continue: first.GetContinue()}
		for opts.Continue != "" {
			page, err := c.List(ctx, opts)
			if err != nil {
				t.Fatalf("continued page: %v", err)
			}
			for _, item := range page.Items {
				names = append(names, item.GetName())
				if item.GetName() == "p3" && len(item.GetLabels()) != 0 {
					t.Errorf("p3 on a later page shows a change made after the first page")
				}
			}
			if page.GetResourceVersion() != first.GetResourceVersion() {
				t.Errorf("page at resourceVersion %s, first page at %s", page.GetResourceVersion(), first.GetResourceVersion())
			}
			opts.Continue = page.GetContinue()
		}
		if got := strings.Join(names, ","); got != "p0,p1,p2,p3,p4" {
			t.Errorf("pages list %s, want the first page's snapshot p0,p1,p2,p3,p4", got)
		}

		exact, err := c.List(ctx, metav1.ListOptions{ResourceVersion: first.GetResourceVersion(), ResourceVersionMatch: metav1.ResourceVersionMatchExact})
		if err != nil {
			t.Fatalf("exact list at the first page's resourceVersion: %v", err)
		}
		if len(exact.Items) != 5 || exact.GetResourceVersion() != first.GetResourceVersion() {
			t.Errorf("exact list: %d items at %s", len(exact.Items), exact.GetResourceVersion())
		}
		selected, err := c.List(ctx, metav1.ListOptions{Limit: 1, LabelSelector: "late!=no"})
		if err != nil || selected.GetContinue() == "" {
			t.Fatalf("paged list with a selector: %v", err)
		}
		if selected.GetRemainingItemCount() != nil {
			t.Errorf("remainingItemCount with a selector = %d, want none", *selected.GetRemainingItemCount())
		}
	})
}
