package tenantroles

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
)

const group = "apps.cozy.io"

var roles = []Role{View("cozy-apps-view"), ListAcrossNamespaces("cozy-apps-list-across-namespaces")}

// shippedRoles are the ClusterRoles of artifacts/deploy/60-tenant-roles.yaml, by name.
func shippedRoles(t *testing.T) map[string]*rbacv1.ClusterRole {
	t.Helper()
	raw, err := os.ReadFile("../../artifacts/deploy/60-tenant-roles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*rbacv1.ClusterRole{}
	for _, doc := range strings.Split(string(raw), "\n---") {
		role := &rbacv1.ClusterRole{}
		if err := yaml.Unmarshal([]byte(doc), role); err != nil {
			t.Fatal(err)
		}
		if role.Kind == "ClusterRole" {
			out[role.Name] = role
		}
	}
	return out
}

func typedResources() []string {
	var out []string
	for _, k := range kinds.All() {
		out = append(out, k.Resource)
	}
	return out
}

// The shipped roles are what the server writes for the typed kinds alone, so a cluster has the
// same rights before the server first starts as after, and view never names a credentials
// subresource.
func TestShippedRolesAreTheTypedKindsRules(t *testing.T) {
	shipped := shippedRoles(t)
	for _, role := range roles {
		got := shipped[role.Name]
		if got == nil {
			t.Fatalf("60-tenant-roles.yaml has no ClusterRole %s", role.Name)
		}
		if want := role.Rules(group, typedResources()); !equality.Semantic.DeepEqual(got.Rules, want) {
			t.Errorf("%s ships rules %+v, the server writes %+v for the typed kinds", role.Name, got.Rules, want)
		}
		for _, r := range got.Rules[0].Resources {
			if r == "*" || strings.HasSuffix(r, "/kubeconfig") || strings.HasSuffix(r, "/credentials") || strings.HasSuffix(r, "/secrets") {
				t.Errorf("%s grants %q, which includes credentials", role.Name, r)
			}
		}
	}
	if edit := shipped["cozy-apps-edit"]; edit == nil || !slices.Equal(edit.Rules[0].Resources, []string{"*"}) {
		t.Errorf("edit should cover every kind and subresource with *: %+v", edit)
	}
}

// newKeeper returns a keeper over a fake API holding the shipped roles, and the fake.
func newKeeper(t *testing.T, ready func() error) (*Keeper, *fake.Clientset) {
	t.Helper()
	var objects []runtime.Object
	for _, r := range shippedRoles(t) {
		objects = append(objects, r)
	}
	client := fake.NewClientset(objects...)
	return New(client.RbacV1().ClusterRoles(), group, roles, ready), client
}

func settled() error { return nil }

func rulesOf(t *testing.T, client *fake.Clientset, name string) []rbacv1.PolicyRule {
	t.Helper()
	role, err := client.RbacV1().ClusterRoles().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return role.Rules
}

func updates(client *fake.Clientset) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" {
			n++
		}
	}
	return n
}

// A kind served later appears in both roles, and goes when it is no longer served; the rest of
// each object (the aggregation label) stays.
func TestKeeperFollowsTheServedKinds(t *testing.T) {
	k, client := newKeeper(t, settled)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go k.Run(ctx)

	withPostgres := append(typedResources(), "postgreses")
	k.Serve(withPostgres)
	for _, role := range roles {
		awaitRules(t, client, role.Name, role.Rules(group, withPostgres))
	}
	view, err := client.RbacV1().ClusterRoles().Get(ctx, "cozy-apps-view", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if view.Labels["rbac.authorization.k8s.io/aggregate-to-view"] != "true" {
		t.Errorf("the aggregation label was lost: %v", view.Labels)
	}
	if !slices.Contains(view.Rules[0].Resources, "*/status") || slices.Contains(view.Rules[0].Resources, "*") {
		t.Errorf("view reads %v", view.Rules[0].Resources)
	}

	k.Serve(typedResources())
	for _, role := range roles {
		awaitRules(t, client, role.Name, role.Rules(group, typedResources()))
	}
}

func awaitRules(t *testing.T, client *fake.Clientset, name string, want []rbacv1.PolicyRule) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return equality.Semantic.DeepEqual(rulesOf(t, client, name), want), nil
	})
	if err != nil {
		t.Fatalf("%s: rules %+v, want %+v", name, rulesOf(t, client, name), want)
	}
}

// Before the catalog settled the served set may lack kinds that exist: nothing is written, so a
// starting replica never takes a right away, even for a moment.
func TestKeeperWritesNothingBeforeTheKindsSettle(t *testing.T) {
	k, client := newKeeper(t, func() error { return errors.New("not yet") })
	k.Serve([]string{"buckets"})
	if err := k.sync(context.Background()); !errors.Is(err, errNotSettled) {
		t.Fatalf("sync before settling: %v", err)
	}
	if n := updates(client); n != 0 {
		t.Errorf("%d updates before the kinds settled", n)
	}
}

// Replicas that agree write nothing: a role already in step is only read.
func TestKeeperWritesOnlyADifference(t *testing.T) {
	k, client := newKeeper(t, settled)
	k.Serve(typedResources())
	if err := k.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := updates(client); n != 0 {
		t.Errorf("%d updates of roles already in step", n)
	}
	k.Serve(append(typedResources(), "redises"))
	for range 2 {
		if err := k.sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := updates(client); n != len(roles) {
		t.Errorf("%d updates for one change of %d roles", n, len(roles))
	}
}

// A conflicting write (another replica, an administrator) is read again and retried.
func TestKeeperRetriesAConflict(t *testing.T) {
	k, client := newKeeper(t, settled)
	conflicts := 1
	client.PrependReactor("update", "clusterroles", func(clienttesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, "cozy-apps-view", errors.New("changed"))
		}
		return false, nil, nil
	})
	served := append(typedResources(), "kafkas")
	k.Serve(served)
	if err := k.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := rulesOf(t, client, "cozy-apps-view"), View("").Rules(group, served); !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("after a conflict: %+v, want %+v", got, want)
	}
}

// A missing role is an error naming it; the server never creates a role (it may not).
func TestKeeperNeverCreatesARole(t *testing.T) {
	client := fake.NewClientset()
	k := New(client.RbacV1().ClusterRoles(), group, roles, settled)
	k.Serve(typedResources())
	err := k.sync(context.Background())
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "cozy-apps-view") {
		t.Errorf("sync without the roles: %v, want a not-found naming the role", err)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("unexpected %s", a.GetVerb())
		}
	}
}
