package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/tenancy"
)

// TestNestedTenants: two tenants, one nested under the other, and a viewer. alice (admin of her
// namespace) creates a Tenant; it reports the namespace it makes, Flux's tenant chart makes it,
// and it is at once a tenant namespace where alice and her viewer keep their roles: it shows in
// their tenantnamespaces (in alice's open watch too), alice's applications go in it, the viewer
// reads them and writes nothing, bob (admin of another tenant) sees and reaches none of it.
// A Tenant never takes a namespace (its name holds no '-', its namespace must be free or its
// own); deleting it deletes its namespace and everything in it.
func TestNestedTenants(t *testing.T) {
	ctx := context.Background()
	dumpFluxLogOnFailure(t)
	applyDefinition(t, definition(t, "tenant"))
	applyDefinition(t, definition(t, "redis"))
	parent, other := newTenant(t), newTenant(t)
	alice, victor, bob := "alice-"+parent, "victor-"+parent, "bob-"+other
	bindRole(t, parent, "admin", alice)
	bindRole(t, parent, "view", victor)
	bindRole(t, other, "admin", bob)
	awaitServed(t, cp.Dynamic, "tenants", parent)
	awaitServed(t, cp.Dynamic, "redises", parent)

	tenantNamespaces := func(user string) []string {
		t.Helper()
		return listTenantNamespaces(t, user, metav1.ListOptions{})
	}
	eventually(t, 20*time.Second, "alice sees her namespace", func(ctx context.Context) (bool, error) {
		got := tenantNamespaces(alice)
		return slices.Equal(got, []string{parent}), fmt.Errorf("alice sees %v", got)
	})
	w, err := as(t, alice).Resource(gvr("tenantnamespaces")).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// The Tenant says which namespace it makes, from the moment it is created.
	aliceTenants := as(t, alice).Resource(gvr("tenants")).Namespace(parent)
	team := gadgetOf("Tenant", "team", map[string]any{})
	team.SetLabels(map[string]string{fluxLabel: "true"})
	created := mustCreate(t, aliceTenants, team)
	child := parent + "-team"
	if got, _, _ := unstructured.NestedString(created.Object, "status", "namespace"); got != child {
		t.Fatalf("status.namespace %q, want %q", got, child)
	}

	// Flux's tenant chart makes it: a tenant namespace for alice and victor, not bob.
	expectTenantNamespaceEvent(t, w, watch.Added, child)
	// Reads from the cache say it too (a defined kind's object is kept compact there).
	eventually(t, 20*time.Second, "the listed Tenant shows its namespace", func(ctx context.Context) (bool, error) {
		list, err := aliceTenants.List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil || len(list.Items) != 1 {
			return false, fmt.Errorf("%v %v", err, list)
		}
		got, _, _ := unstructured.NestedString(list.Items[0].Object, "status", "namespace")
		return got == child, fmt.Errorf("status.namespace %q", got)
	})
	eventually(t, 45*time.Second, "victor sees the child namespace", func(ctx context.Context) (bool, error) {
		got := tenantNamespaces(victor)
		return slices.Equal(got, []string{parent, child}), fmt.Errorf("victor sees %v", got)
	})
	if got := tenantNamespaces(bob); !slices.Equal(got, []string{other}) {
		t.Errorf("bob sees %v", got)
	}
	ns, err := cp.Kube.CoreV1().Namespaces().Get(ctx, child, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, labelled := ns.Labels[tenancy.TenantLabel]; !labelled || len(ns.OwnerReferences) != 1 || ns.OwnerReferences[0].Name != parent {
		t.Errorf("the child namespace is not a tenant namespace owned by its parent: labels %v, owners %v", ns.Labels, ns.OwnerReferences)
	}

	// alice's applications go in it; victor reads them and writes nothing; bob reaches nothing.
	cache := gadgetOf("Redis", "cache", map[string]any{})
	cache.SetLabels(map[string]string{fluxLabel: "true"})
	eventually(t, 20*time.Second, "alice creates a Redis in the child namespace", func(ctx context.Context) (bool, error) {
		_, err := as(t, alice).Resource(gvr("redises")).Namespace(child).Create(ctx, cache, metav1.CreateOptions{})
		return err == nil, err
	})
	if _, err := as(t, victor).Resource(gvr("redises")).Namespace(child).Get(ctx, "cache", metav1.GetOptions{}); err != nil {
		t.Errorf("victor reads alice's Redis: %v", err)
	}
	if _, err := as(t, victor).Resource(gvr("redises")).Namespace(child).Create(ctx, gadgetOf("Redis", "mine", map[string]any{}), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("victor creates in the child namespace: %v, want 403", err)
	}
	if _, err := as(t, victor).Resource(gvr("tenants")).Namespace(parent).Create(ctx, gadgetOf("Tenant", "mine", map[string]any{}), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("victor creates a Tenant: %v, want 403", err)
	}
	if _, err := as(t, bob).Resource(gvr("redises")).Namespace(child).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("bob lists the child namespace: %v, want 403", err)
	}
	if _, err := as(t, bob).Resource(gvr("tenants")).Namespace(parent).Create(ctx, gadgetOf("Tenant", "bobs", map[string]any{}), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("bob creates a Tenant in alice's namespace: %v, want 403", err)
	}

	// A grandchild is named from its parent's namespace.
	grand := mustCreate(t, as(t, alice).Resource(gvr("tenants")).Namespace(child), gadgetOf("Tenant", "sub", map[string]any{}))
	if got, _, _ := unstructured.NestedString(grand.Object, "status", "namespace"); got != child+"-sub" {
		t.Errorf("the grandchild's status.namespace %q, want %q", got, child+"-sub")
	}

	expectNestedTenantsRefused(t, aliceTenants, parent, bob)

	// Deleting the Tenant deletes its namespace and what is in it.
	if err := aliceTenants.Delete(ctx, "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 120*time.Second, "the child namespace is gone", func(ctx context.Context) (bool, error) {
		_, err := cp.Kube.CoreV1().Namespaces().Get(ctx, child, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	expectTenantNamespaceEvent(t, w, watch.Deleted, child)
	if _, err := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(child).Get(ctx, "redis-cache", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Redis's release outlived its namespace: %v", err)
	}
}

// expectNestedTenantsRefused: Tenants that would leave their tree or take a namespace are refused
// before anything is stored: a '-' in the name (422), a namespace name too long (422), a namespace
// that exists and is not the Tenant's own (409, dry run too), another tenant's namespace named as
// a child of this one (409).
func expectNestedTenantsRefused(t *testing.T, tenants dynamic.ResourceInterface, parent, neighbour string) {
	t.Helper()
	ctx := context.Background()
	for _, name := range []string{"a-b", strings.Repeat("x", 63-len(parent))} {
		_, err := tenants.Create(ctx, gadgetOf("Tenant", name, map[string]any{}), metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.name") {
			t.Errorf("Tenant %q: %v, want 422 at metadata.name", name, err)
		}
	}
	// A server-side apply that would create one is a create too.
	_, err := tenants.Patch(ctx, "c-d", types.ApplyPatchType, []byte(`{"apiVersion":"apps.cozy.io/v1alpha1","kind":"Tenant","metadata":{"name":"c-d"}}`),
		metav1.PatchOptions{FieldManager: "e2e"})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("Tenant c-d applied: %v, want 422 at metadata.name", err)
	}
	// A namespace the cluster admin made, and a tenant namespace of bob's that happens to be named
	// as a child of alice's.
	if err := cp.CreateNamespace(ctx, parent+"-taken", ""); err != nil {
		t.Fatal(err)
	}
	bobs := parent + "-bobs"
	if err := cp.CreateNamespace(ctx, bobs, "bobs"); err != nil {
		t.Fatal(err)
	}
	bindRole(t, bobs, "admin", neighbour)
	t.Cleanup(func() {
		for _, ns := range []string{parent + "-taken", bobs} {
			_ = cp.Kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		}
	})
	for _, name := range []string{"taken", "bobs"} {
		for _, dryRun := range [][]string{nil, {metav1.DryRunAll}} {
			_, err := tenants.Create(ctx, gadgetOf("Tenant", name, map[string]any{}), metav1.CreateOptions{DryRun: dryRun})
			if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), parent+"-"+name) {
				t.Errorf("Tenant %q (dry run %v): %v, want 409 naming the namespace", name, dryRun, err)
			}
		}
	}
	if _, err := cp.Kube.CoreV1().Namespaces().Get(ctx, bobs, metav1.GetOptions{}); err != nil {
		t.Errorf("bob's namespace: %v", err)
	}
}
