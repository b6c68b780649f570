package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/cozystack/apps-apiserver/test/framework"
)

// TestCatalogRolesFollowTheKinds: a kind defined while a viewer, an editor and an admin hold
// RoleBindings in a tenant namespace gives each what the role gives for the typed kinds — view
// reads objects and status (also across namespaces, where it shows only theirs), edit and admin
// everything — within seconds, through kube-apiserver's own RBAC and aggregation; when the
// definition renames the kind, the rights move with it; when it is removed, nothing of it is left
// in any role.
func TestCatalogRolesFollowTheKinds(t *testing.T) {
	ctx := context.Background()
	ns, elsewhere := newTenant(t), newTenant(t)
	users := map[string]string{"view": "catalog-viewer", "edit": "catalog-editor", "admin": "catalog-admin"}
	for role, user := range users {
		bindRole(t, ns, role, user)
	}

	def := renamedDefinition(t, "redis", "widget", "Widget", "widgets", "widget-")
	applied := time.Now()
	applyDefinition(t, def)
	awaitServed(t, cp.Dynamic, "widgets", ns)
	for _, namespace := range []string{ns, elsewhere} {
		mustCreate(t, cp.Dynamic.Resource(gvr("widgets")).Namespace(namespace), gadgetOf("Widget", "seed", map[string]any{}))
	}
	expectRoleRights(t, users, "Widget", "widgets", ns, elsewhere)
	t.Logf("every role's rights on a new kind held %s after the definition was applied", time.Since(applied).Round(100*time.Millisecond))

	// Renamed: the rights move to the new resource; the old name is refused by RBAC itself.
	for field, value := range map[string]string{"plural": "doodads", "singular": "doodad"} {
		if err := unstructured.SetNestedField(def.Object, value, "spec", "application", field); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cp.ApplyDefinition(ctx, def); err != nil {
		t.Fatal(err)
	}
	awaitServed(t, cp.Dynamic, "doodads", ns)
	expectRoleRights(t, users, "Widget", "doodads", ns, elsewhere)
	awaitNamedByNoRole(t, "widgets")
	if _, err := as(t, users["view"]).Resource(gvr("widgets")).Namespace(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the viewer lists the kind's old resource name: %v, want 403", err)
	}

	// Removed: no role names it; the viewer is refused by RBAC, before the request reaches us.
	deleteDefinition(t, def.GetName())
	awaitGone(t, cp.Dynamic, "doodads", ns)
	awaitNamedByNoRole(t, "doodads")
	if _, err := as(t, users["view"]).Resource(gvr("doodads")).Namespace(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the viewer lists a removed kind: %v, want 403", err)
	}
}

// expectRoleRights checks, as each user, what their role gives on the resource in ns, and that
// none of them reaches the object of the same name in elsewhere.
func expectRoleRights(t *testing.T, users map[string]string, kind, resource, ns, elsewhere string) {
	t.Helper()
	ctx := context.Background()
	viewer := as(t, users["view"]).Resource(gvr(resource))
	eventually(t, 20*time.Second, "the viewer reads "+resource, func(ctx context.Context) (bool, error) {
		_, err := viewer.Namespace(ns).Get(ctx, "seed", metav1.GetOptions{})
		return err == nil, err
	})
	if _, err := viewer.Namespace(ns).Get(ctx, "seed", metav1.GetOptions{}, "status"); err != nil {
		t.Errorf("viewer get %s/status: %v", resource, err)
	}
	w, err := viewer.Namespace(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("viewer watch %s: %v", resource, err)
	} else {
		w.Stop()
	}
	eventually(t, 20*time.Second, "the viewer lists "+resource+" across namespaces, seeing only their own", func(ctx context.Context) (bool, error) {
		list, err := viewer.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		if len(list.Items) != 1 || list.Items[0].GetNamespace() != ns {
			return false, fmt.Errorf("the list across namespaces shows %d objects", len(list.Items))
		}
		return true, nil
	})
	if _, err := viewer.Namespace(ns).Create(ctx, gadgetOf(kind, "by-viewer", map[string]any{}), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("viewer create %s: %v, want 403", resource, err)
	}
	if _, err := viewer.Namespace(ns).Patch(ctx, "seed", types.MergePatchType, []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("viewer patch %s: %v, want 403", resource, err)
	}
	if err := viewer.Namespace(ns).Delete(ctx, "seed", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("viewer delete %s: %v, want 403", resource, err)
	}

	for _, role := range []string{"edit", "admin"} {
		client := as(t, users[role]).Resource(gvr(resource)).Namespace(ns)
		name := "by-" + role
		if _, err := client.Create(ctx, gadgetOf(kind, name, map[string]any{}), metav1.CreateOptions{}); err != nil {
			t.Errorf("%s create %s: %v", role, resource, err)
			continue
		}
		if _, err := client.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}); err != nil {
			t.Errorf("%s patch %s: %v", role, resource, err)
		}
		if err := client.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("%s delete %s: %v", role, resource, err)
		}
	}
	for role, user := range users {
		if _, err := as(t, user).Resource(gvr(resource)).Namespace(elsewhere).Get(ctx, "seed", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("%s get %s in a namespace they have no binding in: %v, want 403", role, resource, err)
		}
	}
}

// awaitNamedByNoRole waits until no ClusterRole — the server's tenant roles nor the built-in
// roles they are aggregated into — grants anything on the apps.cozy.io resource.
func awaitNamedByNoRole(t *testing.T, resource string) {
	t.Helper()
	eventually(t, 20*time.Second, "no role names "+resource, func(ctx context.Context) (bool, error) {
		for _, name := range []string{"cozy-apps-view", "cozy-apps-list-across-namespaces", "view", "edit", "admin"} {
			role, err := cp.Kube.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, rule := range role.Rules {
				if slices.Contains(rule.APIGroups, "apps.cozy.io") && slices.Contains(rule.Resources, resource) {
					return false, fmt.Errorf("%s still names %s", name, resource)
				}
			}
		}
		return true, nil
	})
}

// TestCatalogRolesGrantNothingBeyondTheGroup: the server may rewrite the two tenant roles, but
// kube-apiserver (RBAC's escalation check and the shipped admission policy) refuses any rule in
// them that is not a read of apps.cozy.io — even of rights the server holds itself, such as
// writing HelmReleases — any change of their labels or aggregation, and every other role: a
// definition or a compromised server cannot hand tenants rights on anything else.
func TestCatalogRolesGrantNothingBeyondTheGroup(t *testing.T) {
	ctx := context.Background()
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + framework.ServiceNamespace + ":" + framework.ServiceName,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + framework.ServiceNamespace, "system:authenticated"},
	}
	server := kubernetes.NewForConfigOrDie(cfg).RbacV1().ClusterRoles()
	dryRun := metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}}

	view, err := server.Get(ctx, "cozy-apps-view", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the server reads its tenant role: %v", err)
	}
	hostile := map[string]func(role *rbacv1.ClusterRole){}
	for what, rule := range map[string]rbacv1.PolicyRule{
		"writing HelmReleases (which the server may)": {APIGroups: []string{"helm.toolkit.fluxcd.io"}, Resources: []string{"helmreleases"}, Verbs: []string{"create"}},
		"reading Namespaces (which the server may)":   {APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}},
		"writing apps.cozy.io":                        {APIGroups: []string{"apps.cozy.io"}, Resources: []string{"buckets"}, Verbs: []string{"create"}},
		"reading apps.cozy.io and another group":      {APIGroups: []string{"apps.cozy.io", ""}, Resources: []string{"buckets"}, Verbs: []string{"get"}},
		"reading apps.cozy.io by name":                {APIGroups: []string{"apps.cozy.io"}, Resources: []string{"buckets"}, ResourceNames: []string{"x"}, Verbs: []string{"get"}},
	} {
		hostile["a rule "+what] = func(role *rbacv1.ClusterRole) { role.Rules = append(role.Rules, rule) }
	}
	hostile["a label folding the role into admin"] = func(role *rbacv1.ClusterRole) {
		role.Labels["rbac.authorization.k8s.io/aggregate-to-admin"] = "true"
	}
	hostile["an aggregation rule"] = func(role *rbacv1.ClusterRole) {
		role.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"any": "role"}}}}
	}
	for what, change := range hostile {
		changed := view.DeepCopy()
		change(changed)
		// The policy is enforced once kube-apiserver has loaded it, shortly after the control plane started.
		eventually(t, 20*time.Second, "the server's identity refused "+what, func(ctx context.Context) (bool, error) {
			_, err := server.Update(ctx, changed, dryRun)
			return apierrors.IsForbidden(err), err
		})
	}
	if _, err := server.Update(ctx, view, dryRun); err != nil {
		t.Errorf("the server's identity cannot write the view role as it is: %v", err)
	}
	builtIn, err := cp.Kube.RbacV1().ClusterRoles().Get(ctx, "view", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Update(ctx, builtIn, dryRun); !apierrors.IsForbidden(err) {
		t.Errorf("the server's identity writes the built-in view role: %v, want 403", err)
	}
	if _, err := server.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cozy-apps-extra"}}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsForbidden(err) {
		t.Errorf("the server's identity creates a ClusterRole: %v, want 403", err)
	}
}
