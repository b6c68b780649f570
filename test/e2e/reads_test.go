package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/generated/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// Read behaviour: selectors, pages and continue tokens, resourceVersion rules and read-your-writes,
// on one replica and across two. TestSemantics* run the same steps on the apps.cozy.io kind and
// its CRD twin (see compare).

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

// TestReadYourWritesAcrossReplicas writes through one replica (behind the APIService) and reads
// through another, as clients of a two-replica Deployment do.
func TestReadYourWritesAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	replica, err := cp.StartReplica(ctx, "replica-b")
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	cfg, err := cp.ReplicaConfig(replica, "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	other, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := newTenant(t)
	writer := cp.Apps.AppsV1alpha1().Buckets(ns)
	reader := other.AppsV1alpha1().Buckets(ns)
	for i := 0; i < 50; i++ {
		b := &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("b", i)}}
		created, err := writer.Create(ctx, b, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := reader.Get(ctx, b.Name, metav1.GetOptions{})
		if err != nil || got.ResourceVersion != created.ResourceVersion {
			t.Fatalf("replica B after write %d: %v", i, err)
		}
		list, err := reader.List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != i+1 {
			t.Fatalf("replica B list after write %d: %v, %d items", i, err, len(list.Items))
		}
	}
}
