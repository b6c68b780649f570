// Package tenantroles keeps the apps.cozy.io rules of the tenants' ClusterRoles equal to the
// kinds the server serves, so that rights follow the catalog: a kind defined at run time is
// readable by the `view` role within seconds, and nothing stays granted after it is removed.
//
// RBAC has no deny, and `view` must never read a credentials subresource (kuberneteses/kubeconfig,
// buckets/credentials, any later one), so its rule names each served resource and `*/status`
// instead of `*`; such a list can only be kept by a controller. The roles are shipped
// (artifacts/deploy/60-tenant-roles.yaml, aggregated into view) and the server only rewrites their
// rules: it may get and update those two ClusterRoles by name and create none. kube-apiserver lets
// a role be written only with rights its writer holds itself (the server is granted reads of
// apps.cozy.io for it), and a shipped ValidatingAdmissionPolicy refuses any rule from the server
// that is not a read of apps.cozy.io (artifacts/deploy/10-rbac.yaml), so nothing it writes grants
// anything else, whatever else the server may do itself.
package tenantroles

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	rbacclient "k8s.io/client-go/kubernetes/typed/rbac/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

// Role is one ClusterRole whose rules the keeper owns: one rule on the group, for every served
// resource and the extra resources (like `*/status`), with the verbs.
type Role struct {
	// Name is the ClusterRole's name.
	Name string
	// Verbs are the verbs the rule grants.
	Verbs []string
	// Extra are resources granted besides the served ones, such as "*/status".
	Extra []string
}

// Rules are the rules the role should hold for the served resources, in a stable order.
func (r Role) Rules(group string, served []string) []rbacv1.PolicyRule {
	resources := append(slices.Clone(served), r.Extra...)
	slices.Sort(resources)
	resources = slices.Compact(resources)
	return []rbacv1.PolicyRule{{APIGroups: []string{group}, Resources: resources, Verbs: slices.Clone(r.Verbs)}}
}

// ResyncPeriod is how often the keeper compares the roles with the served kinds even when
// nothing changed, to repair a role re-applied from the shipped manifests (which list the typed
// kinds only). A periodic check instead of a watch: two replicas of different versions that
// disagreed would otherwise rewrite each other's rules in a loop.
const ResyncPeriod = time.Minute

// errNotSettled is the served set not being complete yet, checked again after settleWait.
var errNotSettled = errors.New("the served kinds are not settled")

const settleWait = 500 * time.Millisecond

// Keeper writes the served resources into the roles' rules: the latest set only, one writer.
type Keeper struct {
	client rbacclient.ClusterRoleInterface
	group  string
	roles  []Role
	// ready says whether the served set is complete (the catalog settled); nothing is written
	// before, so a replica that is starting never takes rights away for a moment.
	ready func() error

	mu      sync.Mutex
	served  []string
	changed chan struct{}
}

// New returns a keeper of the roles' rules on group. Nothing is written before Run, nor while
// ready returns an error.
func New(client rbacclient.ClusterRoleInterface, group string, roles []Role, ready func() error) *Keeper {
	return &Keeper{client: client, group: group, roles: roles, ready: ready, changed: make(chan struct{}, 1)}
}

// Serve records the resources served now (typed and defined); it never blocks.
func (k *Keeper) Serve(resources []string) {
	sorted := slices.Clone(resources)
	slices.Sort(sorted)
	k.mu.Lock()
	k.served = sorted
	k.mu.Unlock()
	select {
	case k.changed <- struct{}{}:
	default:
	}
}

// Run keeps the roles until ctx ends: after every change, on a failure again with backoff, and
// every ResyncPeriod.
func (k *Keeper) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	logger := klog.FromContext(ctx).WithName("tenant-roles")
	ctx = klog.NewContext(ctx, logger)
	backoff := wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Steps: 8, Cap: ResyncPeriod}
	resync := time.NewTicker(ResyncPeriod)
	defer resync.Stop()
	var retry <-chan time.Time
	delay := backoff
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.changed:
		case <-resync.C:
		case <-retry:
		}
		retry = nil
		err := k.sync(ctx)
		if errors.Is(err, errNotSettled) {
			logger.V(2).Info("Waiting for the served kinds to settle before writing the tenant roles")
			retry = time.After(settleWait)
			continue
		}
		if err != nil {
			d := delay.Step()
			logger.Info("Tenant roles not in step with the served kinds yet; trying again", "after", d, "err", err)
			retry = time.After(d)
			continue
		}
		delay = backoff
	}
}

// sync writes every role whose rules differ from the served resources.
func (k *Keeper) sync(ctx context.Context) error {
	if err := k.ready(); err != nil {
		return fmt.Errorf("%w: %v", errNotSettled, err)
	}
	k.mu.Lock()
	served := k.served
	k.mu.Unlock()
	if served == nil {
		return nil
	}
	var errs []error
	for _, role := range k.roles {
		if err := k.write(ctx, role, served); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// write replaces the role's rules when they differ, keeping everything else of the object.
func (k *Keeper) write(ctx context.Context, role Role, served []string) error {
	want := role.Rules(k.group, served)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := k.client.Get(ctx, role.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading ClusterRole %s: %w", role.Name, err)
		}
		if equality.Semantic.DeepEqual(current.Rules, want) {
			return nil
		}
		current.Rules = want
		if _, err := k.client.Update(ctx, current, metav1.UpdateOptions{FieldManager: "cozy-apiserver"}); err != nil {
			return fmt.Errorf("updating ClusterRole %s: %w", role.Name, err)
		}
		klog.FromContext(ctx).Info("Tenant role follows the served kinds", "clusterRole", role.Name, "resources", want[0].Resources)
		return nil
	})
}

// View is the role aggregated into `view`: it reads every served kind, its status and the
// Services and Ingresses that belong to an application, and no other subresource (those that
// carry credentials, secrets among them, are for edit and admin).
func View(name string) Role {
	return Role{Name: name, Verbs: []string{"get", "list", "watch"}, Extra: []string{"*/status", "*/services", "*/ingresses"}}
}

// ListAcrossNamespaces is the role bound to every authenticated user so that a list or watch
// across namespaces reaches the server, which shows only the namespaces the user may read.
func ListAcrossNamespaces(name string) Role {
	return Role{Name: name, Verbs: []string{"list", "watch"}}
}
