package tenantnamespaces

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// visibleSet is a Visibility whose visible namespaces a test changes.
type visibleSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (v *visibleSet) set(names ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen = map[string]bool{}
	for _, n := range names {
		v.seen[n] = true
	}
}

func (v *visibleSet) decide(_ context.Context, namespaces []string) (map[string]bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]bool{}
	for _, ns := range namespaces {
		out[ns] = v.seen[ns]
	}
	return out, nil
}

// newREST serves tenant namespaces a, b (tenant) and plain (not a tenant's), a visible and plain
// visible too.
func newREST(t *testing.T) (*REST, *visibleSet) {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for name, tenant := range map[string]bool{"a": true, "b": true, "plain": false} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)}}
		if tenant {
			ns.Labels = map[string]string{"tenant": name}
		}
		if err := indexer.Add(ns); err != nil {
			t.Fatal(err)
		}
	}
	selector, err := labels.Parse("tenant")
	if err != nil {
		t.Fatal(err)
	}
	v := &visibleSet{}
	v.set("a", "plain")
	return New(schema.GroupVersion{Group: "apps.cozy.io", Version: "v1alpha1"}, corev1listers.NewNamespaceLister(indexer), selector, v.decide, 10*time.Millisecond), v
}

func names(t *testing.T, obj any) []string {
	t.Helper()
	var out []string
	for _, item := range obj.(*unstructured.UnstructuredList).Items {
		out = append(out, item.GetName())
	}
	return out
}

// Only tenant namespaces the user may see are listed or got; an invisible one is not found, and
// no selector reaches it.
func TestListAndGetShowOnlyVisibleTenantNamespaces(t *testing.T) {
	r, _ := newREST(t)
	ctx := context.Background()
	list, err := r.List(ctx, &metainternalversion.ListOptions{})
	if err != nil || !slices.Equal(names(t, list), []string{"a"}) {
		t.Errorf("list: %v %v", err, list)
	}
	for _, selector := range []fields.Selector{fields.OneTermEqualSelector("metadata.name", "b"), fields.OneTermEqualSelector("metadata.name", "plain")} {
		list, err := r.List(ctx, &metainternalversion.ListOptions{FieldSelector: selector})
		if err != nil || len(names(t, list)) != 0 {
			t.Errorf("list with %s: %v %v", selector, err, names(t, list))
		}
	}
	if list, _ := r.List(ctx, &metainternalversion.ListOptions{LabelSelector: labels.Everything().Add(mustRequirement(t))}); len(names(t, list)) != 0 {
		t.Errorf("a label selector selects %v", names(t, list))
	}
	for _, name := range []string{"b", "plain", "missing"} {
		if _, err := r.Get(ctx, name, &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get %s: %v, want not found", name, err)
		}
	}
	if got, err := r.Get(ctx, "a", &metav1.GetOptions{}); err != nil || got.(*unstructured.Unstructured).GetKind() != Kind {
		t.Errorf("get a: %v %v", err, got)
	}
}

func mustRequirement(t *testing.T) labels.Requirement {
	t.Helper()
	req, err := labels.NewRequirement("x", "=", []string{"y"})
	if err != nil {
		t.Fatal(err)
	}
	return *req
}

// A watch starts with the visible ones and follows the user's rights as they change.
func TestWatchFollowsVisibility(t *testing.T) {
	r, v := newREST(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := r.Watch(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	expect := func(typ watch.EventType, name string) {
		t.Helper()
		select {
		case e := <-w.ResultChan():
			if e.Type != typ || e.Object.(*unstructured.Unstructured).GetName() != name {
				t.Fatalf("got %s %v, want %s %s", e.Type, e.Object, typ, name)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s %s", typ, name)
		}
	}
	expect(watch.Added, "a")
	v.set("a", "b")
	expect(watch.Added, "b")
	v.set("b")
	expect(watch.Deleted, "a")
	w.Stop()
	for range w.ResultChan() {
	}
}
