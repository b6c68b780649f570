package tenancy

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestSelectorDecidesTenantNamespaces(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = indexer.Add(namespace("tenant-root", map[string]string{"tenant.cozystack.io/tenant-root": ""}))
	_ = indexer.Add(namespace("kube-system", nil))
	// Not yet in the informer: read live.
	client := fake.NewSimpleClientset(namespace("tenant-new", map[string]string{"tenant.cozystack.io/tenant-root": ""}))
	c, err := NewChecker("tenant.cozystack.io/tenant-root", corev1listers.NewNamespaceLister(indexer), client)
	if err != nil {
		t.Fatal(err)
	}
	gr := schema.GroupResource{Group: "apps.cozy.io", Resource: "buckets"}
	for _, ns := range []string{"tenant-root", "tenant-new"} {
		if err := c.AllowWrite(context.Background(), gr, ns, "b"); err != nil {
			t.Errorf("%s: %v", ns, err)
		}
	}
	err = c.AllowWrite(context.Background(), gr, "kube-system", "b")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "tenant.cozystack.io/tenant-root") {
		t.Errorf("kube-system: want 403 naming the selector, got %v", err)
	}
	if err := c.AllowWrite(context.Background(), gr, "missing", "b"); !apierrors.IsNotFound(err) {
		t.Errorf("a namespace that does not exist: want 404, got %v", err)
	}
}

func TestInvalidSelectors(t *testing.T) {
	for _, selector := range []string{"", "a b", "!!"} {
		if _, err := NewChecker(selector, nil, nil); err == nil {
			t.Errorf("selector %q accepted", selector)
		}
	}
}

func TestChildTenantNeverTakesANamespace(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = indexer.Add(namespace("tenant-taken", nil))
	leftover := namespace("tenant-again", nil)
	leftover.Annotations = map[string]string{"meta.helm.sh/release-name": "tenant-again", "meta.helm.sh/release-namespace": "tenant-root"}
	_ = indexer.Add(leftover)
	otherParent := namespace("tenant-moved", nil)
	otherParent.Annotations = map[string]string{"meta.helm.sh/release-name": "tenant-moved", "meta.helm.sh/release-namespace": "tenant-other"}
	_ = indexer.Add(otherParent)
	// Not yet in the informer: read live.
	client := fake.NewSimpleClientset(namespace("tenant-fresh", nil))
	c, err := NewChecker(DefaultSelector, corev1listers.NewNamespaceLister(indexer), client)
	if err != nil {
		t.Fatal(err)
	}
	gr := schema.GroupResource{Group: "apps.cozy.io", Resource: "tenants"}
	for _, tc := range []struct {
		parent, name string
		conflict     bool
	}{
		{"tenant-root", "new", false},
		{"tenant-root", "root", false},
		{"tenant-root", "again", false},
		{"tenant-root", "taken", true},
		{"tenant-root", "fresh", true},
		{"tenant-root", "moved", true},
	} {
		err := c.AllowChildTenant(context.Background(), gr, tc.parent, tc.name, "tenant-"+tc.name)
		if tc.conflict != apierrors.IsConflict(err) || (!tc.conflict && err != nil) {
			t.Errorf("%s in %s: %v, want conflict %v", tc.name, tc.parent, err, tc.conflict)
		}
	}
}
