// Package authorization builds the server's authorizer chain from a structured
// AuthorizationConfiguration file (apiserver.config.k8s.io v1 or v1beta1, as kube-apiserver's
// --authorization-config) and swaps it atomically when the file changes. k8s.io/apiserver has
// the types, loader, validation and webhook authorizer but wires none of it for aggregated
// servers; the chain assembly and the reload are written here.
package authorization

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	apiserverconfig "k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/apis/apiserver/validation"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	authorizationcel "k8s.io/apiserver/pkg/authorization/cel"
	authorizationmetrics "k8s.io/apiserver/pkg/authorization/metrics"
	"k8s.io/apiserver/pkg/authorization/path"
	"k8s.io/apiserver/pkg/authorization/union"
	webhookutil "k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/apiserver/plugin/pkg/authorizer/webhook"
	webhookmetrics "k8s.io/apiserver/plugin/pkg/authorizer/webhook/metrics"
	"k8s.io/client-go/rest"
)

// webhookAuthorizerType is the only authorizer type that makes sense for an aggregated server:
// RBAC, Node and ABAC live in kube-apiserver, which InClusterConfig webhooks delegate to.
const webhookAuthorizerType = "Webhook"

// retryBackoff is how webhook calls are retried, as kube-apiserver's default.
var retryBackoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}

// webhookMetrics reports webhook evaluations and match conditions to the shared registry.
type webhookMetrics struct {
	webhookmetrics.NoopRequestMetrics
	webhookmetrics.WebhookMetrics
	authorizationcel.MatcherMetrics
}

// chainBuilder turns a validated configuration into an authorizer.
type chainBuilder struct {
	// inCluster reaches the hosting kube-apiserver, for InClusterConfig webhooks.
	inCluster *rest.Config
	// alwaysAllowPaths are served to anyone, in front of the configured chain.
	alwaysAllowPaths []string
	compiler         authorizationcel.Compiler
}

func (b *chainBuilder) validate(cfg *apiserverconfig.AuthorizationConfiguration) error {
	types := sets.New(webhookAuthorizerType)
	if errs := validation.ValidateAuthorizationConfiguration(b.compiler, nil, cfg, types, types); len(errs) > 0 {
		return errs.ToAggregate()
	}
	return nil
}

// build returns system:masters and the always-allowed paths, then the configured authorizers in
// order, the first with an opinion deciding.
func (b *chainBuilder) build(cfg *apiserverconfig.AuthorizationConfiguration) (authorizer.Authorizer, error) {
	pathAuthorizer, err := path.NewAuthorizer(b.alwaysAllowPaths)
	if err != nil {
		return nil, err
	}
	chain := []union.NamedAuthorizer{
		{AuthorizerName: "kubernetes.io/system-privileged-group", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		{AuthorizerName: "always-allowed-paths", Authorizer: pathAuthorizer},
	}
	for _, configured := range cfg.Authorizers {
		if string(configured.Type) != webhookAuthorizerType {
			return nil, fmt.Errorf("authorizer type %q is not supported by this server", configured.Type)
		}
		a, err := b.webhook(configured)
		if err != nil {
			return nil, fmt.Errorf("authorizer %q: %w", configured.Name, err)
		}
		chain = append(chain, union.NamedAuthorizer{
			AuthorizerName: configured.Name,
			Authorizer:     authorizationmetrics.InstrumentedAuthorizer(string(configured.Type), configured.Name, a),
		})
	}
	return union.New(chain...)
}

func (b *chainBuilder) webhook(configured apiserverconfig.AuthorizerConfiguration) (authorizer.Authorizer, error) {
	w := configured.Webhook
	var clientConfig *rest.Config
	switch w.ConnectionInfo.Type {
	case apiserverconfig.AuthorizationWebhookConnectionInfoTypeKubeConfigFile:
		var err error
		if clientConfig, err = webhookutil.LoadKubeconfig(*w.ConnectionInfo.KubeConfigFile, nil); err != nil {
			return nil, err
		}
	case apiserverconfig.AuthorizationWebhookConnectionInfoTypeInCluster:
		if b.inCluster == nil {
			return nil, fmt.Errorf("InClusterConfig needs a kube-apiserver connection (--authorization-kubeconfig or in-cluster)")
		}
		// The library validates this type but leaves it to the server: delegate to the hosting
		// kube-apiserver's SubjectAccessReview API.
		clientConfig = rest.CopyConfig(b.inCluster)
		clientConfig.Host = strings.TrimSuffix(clientConfig.Host, "/") + "/apis/authorization.k8s.io/" + w.SubjectAccessReviewVersion + "/subjectaccessreviews"
		clientConfig.APIPath = ""
	default:
		return nil, fmt.Errorf("unknown connectionInfo.type %q", w.ConnectionInfo.Type)
	}
	if w.Timeout.Duration != 0 {
		clientConfig.Timeout = w.Timeout.Duration
	}
	decisionOnError := authorizer.DecisionNoOpinion
	if w.FailurePolicy == apiserverconfig.FailurePolicyDeny {
		decisionOnError = authorizer.DecisionDeny
	}
	authorizedTTL, unauthorizedTTL := w.AuthorizedTTL.Duration, w.UnauthorizedTTL.Duration
	if !w.CacheAuthorizedRequests {
		authorizedTTL = 0
	}
	if !w.CacheUnauthorizedRequests {
		unauthorizedTTL = 0
	}
	metrics := webhookMetrics{WebhookMetrics: webhookmetrics.NewWebhookMetrics(), MatcherMetrics: authorizationcel.NewMatcherMetrics()}
	return webhook.New(clientConfig, w.SubjectAccessReviewVersion, authorizedTTL, unauthorizedTTL, retryBackoff,
		decisionOnError, w.MatchConditions, configured.Name, metrics, b.compiler)
}
