package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cozystack/apps-apiserver/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// as returns a dynamic client that acts as user (impersonation by the admin).
func as(t *testing.T, user string) dynamic.Interface {
	t.Helper()
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// TestTenantRBAC: tenants get their rights from the built-in roles (admin, view) through the
// shipped aggregated ClusterRoles, never on HelmReleases; the server records who did what.
func TestTenantRBAC(t *testing.T) {
	ctx := context.Background()
	tenantA, tenantB := newTenant(t), newTenant(t)
	bindRole(t, tenantA, "admin", "alice")
	bindRole(t, tenantB, "view", "bob")
	alice, bob := as(t, "alice"), as(t, "bob")
	bucket := targets()[0]

	// Admin's rules come from the aggregation controller; wait until authorization sees them.
	eventually(t, 15*time.Second, "alice can create in tenant-a", func(ctx context.Context) (bool, error) {
		_, err := alice.Resource(bucket.resource).Namespace(tenantA).Create(ctx, bucket.object("a"), metav1.CreateOptions{})
		return err == nil, err
	})
	aliceA := alice.Resource(bucket.resource).Namespace(tenantA)
	if _, err := aliceA.Get(ctx, "a", metav1.GetOptions{}); err != nil {
		t.Errorf("alice get in tenant-a: %v", err)
	}
	if _, err := aliceA.Patch(ctx, "a", types.MergePatchType, []byte(`{"spec":{"locking":true}}`), metav1.PatchOptions{}); err != nil {
		t.Errorf("alice patch in tenant-a: %v", err)
	}
	hr, err := helmRelease(ctx, tenantA, "bucket-a")
	if err != nil {
		t.Fatal(err)
	}
	if hr.GetAnnotations()[release.AnnotationLastModifiedBy] != "alice" || hr.GetAnnotations()[release.AnnotationLastOperation] != "Update" {
		t.Errorf("the HelmRelease does not record alice's update: %v", hr.GetAnnotations())
	}
	if got, _ := aliceA.Get(ctx, "a", metav1.GetOptions{}); len(got.GetAnnotations()) != 0 {
		t.Errorf("the actor record is visible to users: %v", got.GetAnnotations())
	}

	if _, err := alice.Resource(bucket.resource).Namespace(tenantB).Create(ctx, bucket.object("x"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("alice create in tenant-b: want 403, got %v", err)
	}
	if _, err := alice.Resource(bucket.resource).Namespace(tenantB).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("alice list in tenant-b: want 403, got %v", err)
	}

	mustCreate(t, cp.Dynamic.Resource(bucket.resource).Namespace(tenantB), bucket.object("b"))
	bobB := bob.Resource(bucket.resource).Namespace(tenantB)
	eventually(t, 15*time.Second, "bob can read in tenant-b", func(ctx context.Context) (bool, error) {
		_, err := bobB.Get(ctx, "b", metav1.GetOptions{})
		return err == nil, err
	})
	if _, err := bobB.List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("bob list in tenant-b: %v", err)
	}
	if _, err := bobB.Create(ctx, bucket.object("y"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("bob create in tenant-b: want 403, got %v", err)
	}
	if err := bobB.Delete(ctx, "b", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("bob delete in tenant-b: want 403, got %v", err)
	}

	for user, ns := range map[string]string{"alice": tenantA, "bob": tenantB} {
		releases := as(t, user).Resource(release.HelmReleaseGVR).Namespace(ns)
		if _, err := releases.List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("%s list HelmReleases: want 403, got %v", user, err)
		}
		if _, err := releases.Create(ctx, hr, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("%s create HelmRelease: want 403, got %v", user, err)
		}
	}

	for _, check := range []struct {
		user, verb, resource, ns, want string
	}{
		{"alice", "create", "kuberneteses.apps.cozy.io", tenantA, "yes"},
		{"alice", "delete", "virtualmachines.apps.cozy.io", tenantA, "yes"},
		{"alice", "create", "buckets.apps.cozy.io", tenantB, "no"},
		{"alice", "get", "helmreleases.helm.toolkit.fluxcd.io", tenantA, "no"},
		{"bob", "list", "buckets.apps.cozy.io", tenantB, "yes"},
		{"bob", "update", "buckets.apps.cozy.io", tenantB, "no"},
		{"bob", "get", "buckets.apps.cozy.io", tenantA, "no"},
	} {
		out, _ := kubectl(t, check.want == "no", "auth", "can-i", check.verb, check.resource, "-n", check.ns, "--as", check.user)
		if strings.TrimSpace(out) != check.want {
			t.Errorf("kubectl auth can-i %s %s -n %s --as %s = %q, want %q", check.verb, check.resource, check.ns, check.user, strings.TrimSpace(out), check.want)
		}
	}

	// Deleting records the actor before the release goes (a user finalizer keeps it visible).
	if _, err := aliceA.Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"finalizers":["example.com/hold"]}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := aliceA.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	hr, err = helmRelease(ctx, tenantA, "bucket-a")
	if err != nil {
		t.Fatal(err)
	}
	if hr.GetAnnotations()[release.AnnotationLastModifiedBy] != "alice" || hr.GetAnnotations()[release.AnnotationLastOperation] != "Delete" {
		t.Errorf("the HelmRelease does not record alice's delete: %v", hr.GetAnnotations())
	}
}

// TestNewRoleBindingTakesEffect: a grant is honoured within the server's authorization cache TTL
// (one second in the tests).
func TestNewRoleBindingTakesEffect(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	carol := as(t, "carol").Resource(targets()[0].resource).Namespace(ns)
	if _, err := carol.Create(ctx, targets()[0].object("c"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("carol without a binding: want 403, got %v", err)
	}
	bindRole(t, ns, "edit", "carol")
	start := time.Now()
	// The server caches denials for 1 s in tests (--authorization-webhook-cache-unauthorized-ttl);
	// the binding must count once that has passed, with slack for a busy machine.
	eventually(t, 3*time.Second, "carol's new binding honoured within the authorization cache's TTL", func(ctx context.Context) (bool, error) {
		_, err := carol.Create(ctx, targets()[0].object("c"), metav1.CreateOptions{})
		return err == nil, err
	})
	t.Logf("binding honoured after %v", time.Since(start).Round(10*time.Millisecond))
}

// TestAuditLog runs a replica with k8s.io/apiserver's audit flags and checks that a tenant's
// request is logged with the tenant's name.
func TestAuditLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "audit.log")
	replica, err := cp.StartReplica(ctx, "audited", "--audit-policy-file="+policy, "--audit-log-path="+logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	ns := newTenant(t)
	cfg, err := cp.ReplicaConfig(replica, "dave", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Resource(targets()[0].resource).Namespace(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the request in the audit log", func(context.Context) (bool, error) {
		raw, err := os.ReadFile(logPath)
		return err == nil && strings.Contains(string(raw), `"username":"dave"`) && strings.Contains(string(raw), `"resource":"buckets"`), err
	})
}
