// Package crossnamespace lets tenants list and watch apps.cozy.io kinds across all namespaces
// (`kubectl get buckets -A`) and see exactly the namespaces where they may list them — as
// OpenShift's project list shows each user their projects.
//
// kube-apiserver authorizes every request before the aggregator proxies it, so such a list must
// be allowed by its RBAC: the shipped ClusterRoleBinding grants list and watch on the kinds to
// every authenticated user (one group). In RBAC that grant also covers every namespace, so this
// server decides lists and watches on the user's own rights: the same request, asked of the same
// authorizer chain (and its decision cache) for the user without that group. A namespaced list
// the user may not make on their own rights is 403, as without the grant; a list across
// namespaces shows the namespaces where they may.
package crossnamespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/klog/v2"
)

// decisionWorkers bounds the authorizer calls one request makes at once (one per namespace).
const decisionWorkers = 8

// Filter decides which namespaces a list or watch may show.
type Filter struct {
	authorizer authorizer.Authorizer
	// grantGroup is the group the shipped ClusterRoleBinding grants list and watch to.
	grantGroup string
	refresh    time.Duration
}

// NewFilter decides with the server's authorizer, ignoring the rights grantGroup holds. An open
// watch across namespaces asks again every refresh: a RoleBinding added or removed shows within
// that plus the authorizer's own cache TTL.
func NewFilter(authz authorizer.Authorizer, grantGroup string, refresh time.Duration) *Filter {
	return &Filter{authorizer: authz, grantGroup: grantGroup, refresh: refresh}
}

// RefreshInterval is how often an open watch across namespaces asks again.
func (f *Filter) RefreshInterval() time.Duration { return f.refresh }

// ForbiddenError is a namespaced list or watch the user may make only through the grant to every
// authenticated user.
type ForbiddenError struct{ attrs authorizer.AttributesRecord }

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q",
		e.attrs.User.GetName(), e.attrs.Verb, e.attrs.Resource, e.attrs.APIGroup, e.attrs.Namespace)
}

// ScopeFor returns the scope of a list or watch: nil when it may show everything it selects (the
// user may make it on their own rights, or it is the server's own call), a Scope when it goes
// across namespaces and the user may make it only in some, and a *ForbiddenError when it names a
// namespace where the user may not make it.
func (f *Filter) ScopeFor(ctx context.Context) (*Scope, error) {
	info, ok := genericapirequest.RequestInfoFrom(ctx)
	if !ok || !info.IsResourceRequest {
		return nil, nil
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, errors.New("no user in the request")
	}
	attrs := authorizer.AttributesRecord{
		User: f.ownRights(u), Verb: info.Verb, APIGroup: info.APIGroup, APIVersion: info.APIVersion,
		Resource: info.Resource, Namespace: info.Namespace, ResourceRequest: true,
	}
	if decision, _, err := f.authorizer.Authorize(ctx, attrs); err == nil && decision == authorizer.DecisionAllow {
		return nil, nil
	}
	if info.Namespace != "" {
		return nil, &ForbiddenError{attrs: attrs}
	}
	return &Scope{ctx: ctx, attrs: attrs, authorizer: f.authorizer}, nil
}

// ownRights is the user without the group every authenticated user is in.
func (f *Filter) ownRights(u user.Info) user.Info {
	groups := slices.DeleteFunc(slices.Clone(u.GetGroups()), func(g string) bool { return g == f.grantGroup })
	return &user.DefaultInfo{Name: u.GetName(), UID: u.GetUID(), Groups: groups, Extra: u.GetExtra()}
}

// Scope decides, for one request, which namespaces it may see.
type Scope struct {
	// ctx is the request's: a watch's scope lives as long as the watch.
	ctx        context.Context
	attrs      authorizer.AttributesRecord
	authorizer authorizer.Authorizer
}

// Decide asks the authorizer, for each namespace, whether the user may make the request there on
// their own rights. An error or a missing answer hides the namespace.
func (s *Scope) Decide(namespaces []string) map[string]bool {
	out := make(map[string]bool, len(namespaces))
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(decisionWorkers, len(namespaces)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ns := range work {
				attrs := s.attrs
				attrs.Namespace = ns
				decision, _, err := s.authorizer.Authorize(s.ctx, attrs)
				if err != nil {
					klog.FromContext(s.ctx).V(2).Info("Hiding a namespace from a list across namespaces: the authorizer failed", "namespace", ns, "err", err)
				}
				mu.Lock()
				out[ns] = err == nil && decision == authorizer.DecisionAllow
				mu.Unlock()
			}
		}()
	}
	for _, ns := range namespaces {
		work <- ns
	}
	close(work)
	wg.Wait()
	return out
}

// MayListAny decides, for each namespace, whether the request's user may list one of the
// resources of the group there on their own rights (not through the grant to every authenticated
// user), asking the authorizer about one resource after another for the namespaces still
// undecided. It is how tenantnamespaces shows a user the namespaces they may work in.
func (f *Filter) MayListAny(ctx context.Context, group, version string, resources, namespaces []string) (map[string]bool, error) {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, errors.New("no user in the request")
	}
	out := make(map[string]bool, len(namespaces))
	undecided := namespaces
	for _, resource := range resources {
		if len(undecided) == 0 {
			break
		}
		scope := &Scope{ctx: ctx, authorizer: f.authorizer, attrs: authorizer.AttributesRecord{
			User: f.ownRights(u), Verb: "list", APIGroup: group, APIVersion: version, Resource: resource, ResourceRequest: true,
		}}
		decided := scope.Decide(undecided)
		var still []string
		for _, ns := range undecided {
			if decided[ns] {
				out[ns] = true
			} else {
				still = append(still, ns)
			}
		}
		undecided = still
	}
	return out, nil
}
