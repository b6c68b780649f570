package authorization

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apiserver/pkg/apis/apiserver/load"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	authorizationcel "k8s.io/apiserver/pkg/authorization/cel"
	authorizationmetrics "k8s.io/apiserver/pkg/authorization/metrics"
	reloadmetrics "k8s.io/apiserver/pkg/server/options/authorizationconfig/metrics"
	"k8s.io/apiserver/pkg/util/filesystem"
	webhookmetrics "k8s.io/apiserver/plugin/pkg/authorizer/webhook/metrics"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// Reloadable is the server's authorizer when --authorization-config is set: the chain described by
// the file, replaced atomically whenever the file changes to a valid configuration. An invalid
// change is logged and counted, and the previous chain keeps deciding.
type Reloadable struct {
	path     string
	serverID string
	builder  *chainBuilder
	current  atomic.Pointer[authorizerHolder]
	mu       sync.Mutex
	// lastData is the content the current chain was built from; rejected the last content refused,
	// so a bad file is reported once, not at every poll.
	lastData, rejected []byte
}

type authorizerHolder struct{ authorizer.Authorizer }

var registerMetrics sync.Once

// New loads, validates and builds the chain from the file at path. Errors are start-up errors.
// inCluster reaches the hosting kube-apiserver; alwaysAllowPaths stay open in front of the chain.
func New(path, serverID string, inCluster *rest.Config, alwaysAllowPaths []string) (*Reloadable, error) {
	registerMetrics.Do(func() {
		authorizationmetrics.RegisterMetrics()
		webhookmetrics.RegisterWebhookMetrics()
		authorizationcel.RegisterMetrics()
		reloadmetrics.RegisterMetrics()
	})
	r := &Reloadable{
		path:     path,
		serverID: serverID,
		builder:  &chainBuilder{inCluster: inCluster, alwaysAllowPaths: alwaysAllowPaths, compiler: authorizationcel.NewDefaultCompiler()},
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --authorization-config: %w", err)
	}
	a, err := r.buildFrom(data)
	if err != nil {
		return nil, fmt.Errorf("--authorization-config %s: %w", path, err)
	}
	r.current.Store(&authorizerHolder{a})
	r.lastData = data
	reloadmetrics.RecordAuthorizationConfigLastConfigInfo(serverID, string(data))
	return r, nil
}

func (r *Reloadable) buildFrom(data []byte) (authorizer.Authorizer, error) {
	cfg, err := load.LoadFromData(data)
	if err != nil {
		return nil, err
	}
	if err := r.builder.validate(cfg); err != nil {
		return nil, err
	}
	return r.builder.build(cfg)
}

// Run watches the file until ctx ends and reloads the chain when it changes.
func (r *Reloadable) Run(ctx context.Context) {
	filesystem.WatchUntil(ctx, time.Second, r.path,
		func() { r.Reload(ctx) },
		func(err error) { klog.FromContext(ctx).Error(err, "Watching --authorization-config", "path", r.path) })
}

// Reload rebuilds the chain from the file if its content changed, keeping the current chain when
// the new content is invalid.
func (r *Reloadable) Reload(ctx context.Context) {
	logger := klog.FromContext(ctx)
	data, err := os.ReadFile(r.path)
	if err != nil {
		logger.Error(err, "Reading --authorization-config; keeping the current authorizers", "path", r.path)
		reloadmetrics.RecordAuthorizationConfigAutomaticReloadFailure(r.serverID)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if bytes.Equal(data, r.lastData) || bytes.Equal(data, r.rejected) {
		return
	}
	a, err := r.buildFrom(data)
	if err != nil {
		logger.Error(err, "Invalid --authorization-config; keeping the current authorizers", "path", r.path)
		reloadmetrics.RecordAuthorizationConfigAutomaticReloadFailure(r.serverID)
		r.rejected = data
		return
	}
	r.current.Store(&authorizerHolder{a})
	r.lastData = data
	reloadmetrics.RecordAuthorizationConfigAutomaticReloadSuccess(r.serverID, string(data))
	logger.Info("Reloaded --authorization-config", "path", r.path)
}

// Authorize asks the current chain. A denial caused by an unreachable webhook with failurePolicy
// Deny is reported as a denial (403, with the cause in the reason), not as a server error: the
// configured policy decided.
func (r *Reloadable) Authorize(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	decision, reason, err := r.current.Load().Authorize(ctx, a)
	if decision == authorizer.DecisionDeny && err != nil {
		klog.FromContext(ctx).Error(err, "Authorizer failed; its failurePolicy denies the request")
		return decision, strings.TrimSpace(reason + " authorization webhook unavailable, failurePolicy Deny"), nil
	}
	return decision, reason, err
}

// ConditionsAwareAuthorize asks the current chain.
func (r *Reloadable) ConditionsAwareAuthorize(ctx context.Context, a authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return r.current.Load().ConditionsAwareAuthorize(ctx, a)
}

// EvaluateConditions asks the current chain.
func (r *Reloadable) EvaluateConditions(ctx context.Context, d authorizer.ConditionsAwareDecision, data authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return r.current.Load().EvaluateConditions(ctx, d, data)
}

var _ authorizer.Authorizer = (*Reloadable)(nil)
