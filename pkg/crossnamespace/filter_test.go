package crossnamespace

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

// rbac plays kube-apiserver's RBAC with the shipped grant: every authenticated user may list and
// watch buckets everywhere; alice may also in "alice-a" and "alice-b" on her own, the quota
// controller everywhere; "broken" fails.
var rbac = authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	u := a.GetUser()
	if a.GetNamespace() == "broken" {
		return authorizer.DecisionNoOpinion, "", errors.New("webhook down")
	}
	if slices.Contains(u.GetGroups(), user.AllAuthenticated) && (a.GetVerb() == "list" || a.GetVerb() == "watch") {
		return authorizer.DecisionAllow, "", nil
	}
	switch {
	case u.GetName() == "quota-controller", u.GetName() == "alice" && (a.GetNamespace() == "alice-a" || a.GetNamespace() == "alice-b"):
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
})

func requestContext(name, namespace, verb string) context.Context {
	ctx := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: name, Groups: []string{user.AllAuthenticated}})
	return genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{
		IsResourceRequest: true, Verb: verb, APIGroup: "apps.cozy.io", APIVersion: "v1alpha1", Resource: "buckets", Namespace: namespace,
	})
}

func TestFilterDecidesOnTheUsersOwnRights(t *testing.T) {
	f := NewFilter(rbac, user.AllAuthenticated, time.Second)
	for _, tc := range []struct {
		name, user, namespace string
		wantScope, wantErr    bool
	}{
		{"a controller allowed everywhere", "quota-controller", "", false, false},
		{"a tenant in her namespace", "alice", "alice-a", false, false},
		{"a tenant in another tenant's namespace", "alice", "bob", false, true},
		{"a tenant across namespaces", "alice", "", true, false},
		{"a user with no namespace across namespaces", "carol", "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, verb := range []string{"list", "watch"} {
				scope, err := f.ScopeFor(requestContext(tc.user, tc.namespace, verb))
				var forbidden *ForbiddenError
				if (scope != nil) != tc.wantScope || (err != nil) != tc.wantErr || (err != nil && !errors.As(err, &forbidden)) {
					t.Errorf("%s: scope %v err %v", verb, scope, err)
				}
			}
		})
	}
	if scope, err := f.ScopeFor(context.Background()); err != nil || scope != nil {
		t.Errorf("the server's own call: scope %v err %v, want none", scope, err)
	}
	noUser := genericapirequest.WithRequestInfo(context.Background(), &genericapirequest.RequestInfo{IsResourceRequest: true, Verb: "list", Resource: "buckets"})
	if _, err := f.ScopeFor(noUser); err == nil {
		t.Error("a request without a user: no error")
	}

	scope, err := f.ScopeFor(requestContext("alice", "", "watch"))
	if err != nil || scope == nil {
		t.Fatalf("alice: scope %v err %v", scope, err)
	}
	got := scope.Decide([]string{"alice-a", "alice-b", "bob", "broken"})
	want := map[string]bool{"alice-a": true, "alice-b": true, "bob": false, "broken": false}
	for ns, v := range want {
		if got[ns] != v {
			t.Errorf("Decide(%s) = %v, want %v", ns, got[ns], v)
		}
	}
}
