package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// TestTenantNamespaces: a tenant without cluster rights lists, gets and watches exactly the
// tenant namespaces where they may work (may list an apps.cozy.io kind on their own rights):
// never a namespace where they have no binding, nor a namespace that is not a tenant's, whatever
// the selectors; an empty list for a user with none; a binding added or removed shows in an open
// watch. kubectl lists them as any kind.
func TestTenantNamespaces(t *testing.T) {
	ctx := context.Background()
	ns1, ns2 := newTenant(t), newTenant(t)
	plain := "plain-" + ns1
	if err := cp.CreateNamespace(ctx, plain, ""); err != nil {
		t.Fatal(err)
	}
	alice, bob, carol := "alice-"+ns1, "bob-"+ns1, "carol-"+ns1
	bindRole(t, ns1, "admin", alice)
	bindRole(t, plain, "admin", alice)
	bindRole(t, ns2, "view", bob)

	tenantNamespaces := func(user string) dynamic.ResourceInterface {
		return as(t, user).Resource(gvr("tenantnamespaces"))
	}
	listed := func(user string, opts metav1.ListOptions) []string {
		t.Helper()
		return listTenantNamespaces(t, user, opts)
	}
	eventually(t, 20*time.Second, "alice sees her tenant namespace", func(ctx context.Context) (bool, error) {
		return slices.Equal(listed(alice, metav1.ListOptions{}), []string{ns1}), nil
	})
	eventually(t, 20*time.Second, "bob sees the namespace he may view", func(ctx context.Context) (bool, error) {
		got := listed(bob, metav1.ListOptions{})
		return slices.Equal(got, []string{ns2}), fmt.Errorf("bob sees %v", got)
	})
	if got := listed(carol, metav1.ListOptions{}); len(got) != 0 {
		t.Errorf("carol (no binding) sees %v", got)
	}
	// Nothing of another namespace leaks through a get or selectors.
	if _, err := tenantNamespaces(alice).Get(ctx, ns2, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("alice gets %s: %v, want 404", ns2, err)
	}
	if _, err := tenantNamespaces(alice).Get(ctx, plain, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("alice gets the namespace that is no tenant's: %v, want 404", err)
	}
	if got, err := tenantNamespaces(alice).Get(ctx, ns1, metav1.GetOptions{}); err != nil || got.GetKind() != "TenantNamespace" {
		t.Errorf("alice gets %s: %v %v", ns1, err, got)
	}
	for _, selector := range []string{fields.OneTermEqualSelector("metadata.name", ns2).String(), fields.OneTermNotEqualSelector("metadata.name", ns1).String()} {
		if got := listed(alice, metav1.ListOptions{FieldSelector: selector}); len(got) != 0 {
			t.Errorf("alice with field selector %s sees %v", selector, got)
		}
	}
	if got := listed(alice, metav1.ListOptions{LabelSelector: "anything"}); len(got) != 0 {
		t.Errorf("alice with a label selector sees %v", got)
	}

	// A binding added and removed shows in carol's open watch.
	w, err := tenantNamespaces(carol).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	bindRole(t, ns2, "view", carol)
	expectTenantNamespaceEvent(t, w, watch.Added, ns2)
	if err := cp.Kube.RbacV1().RoleBindings(ns2).Delete(ctx, carol+"-view", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expectTenantNamespaceEvent(t, w, watch.Deleted, ns2)

	out, _ := kubectl(t, false, "get", "tenantnamespaces", "--as", alice)
	if !strings.Contains(out, ns1) || strings.Contains(out, ns2) || !strings.Contains(out, "NAME") {
		t.Errorf("kubectl get tenantnamespaces as alice:\n%s", out)
	}
}

// listTenantNamespaces is the names of the tenant namespaces user lists.
func listTenantNamespaces(t *testing.T, user string, opts metav1.ListOptions) []string {
	t.Helper()
	list, err := as(t, user).Resource(gvr("tenantnamespaces")).List(context.Background(), opts)
	if err != nil {
		t.Fatalf("%s lists tenantnamespaces: %v", user, err)
	}
	var names []string
	for _, item := range list.Items {
		names = append(names, item.GetName())
	}
	return names
}

// expectTenantNamespaceEvent waits for the event within the refresh interval of an open watch
// (10 s) plus the authorizer's cache.
func expectTenantNamespaceEvent(t *testing.T, w watch.Interface, typ watch.EventType, name string) {
	t.Helper()
	timeout := time.After(45 * time.Second)
	for {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("the watch ended before %s %s", typ, name)
			}
			m, err := meta.Accessor(e.Object)
			if err == nil && e.Type == typ && m.GetName() == name {
				return
			}
		case <-timeout:
			t.Fatalf("no %s %s", typ, name)
		}
	}
}
