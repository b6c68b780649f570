// Package server turns command-line flags into a running apps.cozy.io server.
package server

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	basecompatibility "k8s.io/component-base/compatibility"
	baseversion "k8s.io/component-base/version"
	netutils "k8s.io/utils/net"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/apiserver"
	"github.com/cozystack/apps-apiserver/pkg/authorization"
	"github.com/cozystack/apps-apiserver/pkg/frontproxy"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/openapi"
	"github.com/cozystack/apps-apiserver/pkg/quota"
	"github.com/cozystack/apps-apiserver/pkg/tenancy"
	"github.com/cozystack/apps-apiserver/pkg/tenantroles"

	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
)

// Options are the server's flags: the generic server's recommended options without etcd (the
// server stores nothing itself) plus the kinds' chart configuration.
type Options struct {
	RecommendedOptions *genericoptions.RecommendedOptions
	// KindsConfig is a file overriding the charts each kind is installed with.
	KindsConfig string
	// EventLogSize is how many recent changes are kept for watches that resume.
	EventLogSize int
	// EventLogBytes bounds the old object versions those changes keep alive, so memory stays near
	// the size of the cached objects whatever their size and rate of change.
	EventLogBytes resource.QuantityValue
	// BookmarkInterval is how often watchers that ask for bookmarks get one.
	BookmarkInterval time.Duration
	// KubeAPIQPS and KubeAPIBurst limit the server's own requests to kube-apiserver. Every API
	// request becomes one or two upstream requests, so client-go's defaults (5 QPS) would
	// throttle users; kube-apiserver's priority and fairness protects it instead.
	KubeAPIQPS   float32
	KubeAPIBurst int
	// AuthorizationConfig is a structured AuthorizationConfiguration file that replaces the default
	// authorizer (delegation to kube-apiserver) and is reloaded when it changes.
	AuthorizationConfig string
	// TenantSelector is the label selector of tenant namespaces.
	TenantSelector string
	// WorkloadStatus turns on the projection of workload objects' state into the kinds' status.
	WorkloadStatus bool
	// CredentialsSubresources lets the kubeconfig and credentials subresources read Secrets.
	CredentialsSubresources bool
	// CrossNamespaceGroup is the group artifacts/deploy grants list and watch on the kinds
	// everywhere, so that its members can list across namespaces.
	CrossNamespaceGroup string
	// CrossNamespaceRefresh is how often an open watch across namespaces asks again which
	// namespaces its user may read.
	CrossNamespaceRefresh time.Duration
	// ViewClusterRole and ListAcrossNamespacesClusterRole are the shipped tenant roles whose
	// apps.cozy.io rules the server keeps equal to the kinds it serves; empty leaves one alone.
	ViewClusterRole                 string
	ListAcrossNamespacesClusterRole string
	// AlternateDNS are extra names for the self-signed serving certificate, e.g. the Service name
	// the APIService points at.
	AlternateDNS []string

	authorizer *authorization.Reloadable
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	o := &Options{
		RecommendedOptions:              genericoptions.NewRecommendedOptions("", apiserver.Codecs.LegacyCodec(appsv1alpha1.SchemeGroupVersion)),
		EventLogSize:                    10000,
		EventLogBytes:                   resource.QuantityValue{Quantity: resource.MustParse("16Mi")},
		BookmarkInterval:                time.Minute,
		KubeAPIQPS:                      500,
		KubeAPIBurst:                    1000,
		TenantSelector:                  tenancy.DefaultSelector,
		WorkloadStatus:                  true,
		CrossNamespaceGroup:             user.AllAuthenticated,
		CrossNamespaceRefresh:           10 * time.Second,
		ViewClusterRole:                 "cozy-apps-view",
		ListAcrossNamespacesClusterRole: "cozy-apps-list-across-namespaces",
	}
	o.RecommendedOptions.Etcd = nil
	var resources []schema.GroupResource
	for _, kind := range kinds.All() {
		resources = append(resources, appsv1alpha1.Resource(kind.Resource))
	}
	quota.AddAdmission(o.RecommendedOptions, resources)
	return o
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.RecommendedOptions.AddFlags(fs)
	fs.StringVar(&o.KindsConfig, "kinds-config", o.KindsConfig, "File overriding each kind's chart (name, version, sourceRef, interval, timeout). Empty uses the built-in charts.")
	fs.IntVar(&o.EventLogSize, "watch-event-log-size", o.EventLogSize, "Number of recent changes kept so watches can resume from an older resourceVersion.")
	fs.Var(&o.EventLogBytes, "watch-event-log-bytes",
		"Bound on the old object versions the recent changes keep alive (estimated from their HelmReleases' size; 0 for none): beyond it the oldest changes are dropped, and watches from before them get 410 Expired as beyond --watch-event-log-size.")
	fs.DurationVar(&o.BookmarkInterval, "watch-bookmark-interval", o.BookmarkInterval, "How often watchers that allow bookmarks receive one.")
	fs.Float32Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Queries per second the server may send to kube-apiserver.")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Burst of requests the server may send to kube-apiserver.")
	fs.StringVar(&o.AuthorizationConfig, "authorization-config", o.AuthorizationConfig,
		"File with an apiserver.config.k8s.io AuthorizationConfiguration (v1 or v1beta1) of Webhook authorizers (KubeConfigFile, or InClusterConfig to delegate to kube-apiserver). Replaces the default delegating authorizer; reloaded on change.")
	fs.StringVar(&o.TenantSelector, "tenant-namespace-selector", o.TenantSelector,
		"Label selector of tenant namespaces, the only namespaces accepting writes (Cozystack: tenant.cozystack.io/tenant-root).")
	fs.BoolVar(&o.WorkloadStatus, "workload-status", o.WorkloadStatus,
		"Show the state of the workload objects each release's chart creates (KubeVirt, CDI, COSI, Cluster API, Kamaji) in the kinds' status and Ready condition, and copy Flux's and the workloads' warning events onto the objects; needs read access to those types and to events (artifacts/deploy/10-rbac.yaml).")
	fs.BoolVar(&o.CredentialsSubresources, "credentials-subresources", o.CredentialsSubresources,
		"Serve kuberneteses/kubeconfig and buckets/credentials from the Secrets the platform writes; needs artifacts/deploy/optional/credentials-rbac.yaml (read on Secrets). Off, they answer 501.")
	fs.StringVar(&o.CrossNamespaceGroup, "cross-namespace-group", o.CrossNamespaceGroup,
		"The group granted list and watch on the kinds in every namespace (artifacts/deploy/60-tenant-roles.yaml) so its members can list across namespaces. Its rights do not count when the server decides what a list or watch shows: the namespaces where the user may make it on their own rights.")
	fs.DurationVar(&o.CrossNamespaceRefresh, "cross-namespace-refresh", o.CrossNamespaceRefresh,
		"How often an open list-watch across namespaces (kubectl get -A -w) asks the authorizer again which namespaces its user may read; a RoleBinding change shows within this plus the authorizer's cache TTL.")
	fs.StringVar(&o.ViewClusterRole, "view-cluster-role", o.ViewClusterRole,
		"The ClusterRole aggregated into view (artifacts/deploy/60-tenant-roles.yaml) whose rules the server keeps naming every kind it serves and */status, so view reads kinds defined at run time but no credentials subresource; needs get and update on it (artifacts/deploy/10-rbac.yaml). Empty leaves it alone.")
	fs.StringVar(&o.ListAcrossNamespacesClusterRole, "list-across-namespaces-cluster-role", o.ListAcrossNamespacesClusterRole,
		"The ClusterRole bound to --cross-namespace-group whose rules the server keeps naming every kind it serves (list and watch). Empty leaves it alone.")
	fs.StringSliceVar(&o.AlternateDNS, "alternate-dns", o.AlternateDNS, "Extra DNS names for the self-signed serving certificate.")
}

// Validate reports every invalid flag at once.
func (o *Options) Validate() error {
	var errs []error
	errs = append(errs, o.RecommendedOptions.Validate()...)
	if o.EventLogSize < 1 {
		errs = append(errs, fmt.Errorf("--watch-event-log-size must be positive"))
	}
	if o.EventLogBytes.Sign() < 0 {
		errs = append(errs, fmt.Errorf("--watch-event-log-bytes must not be negative"))
	}
	if o.CrossNamespaceRefresh <= 0 {
		errs = append(errs, fmt.Errorf("--cross-namespace-refresh must be positive"))
	}
	if o.BookmarkInterval <= 0 {
		errs = append(errs, fmt.Errorf("--watch-bookmark-interval must be positive"))
	}
	return utilerrors.NewAggregate(errs)
}

// Config builds the server configuration from the options.
func (o *Options) Config() (*apiserver.Config, error) {
	if err := o.RecommendedOptions.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", o.AlternateDNS,
		[]net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("creating self-signed certificates: %w", err)
	}
	kindList, err := kinds.Load(o.KindsConfig)
	if err != nil {
		return nil, err
	}

	cfg := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	namer := openapinamer.NewDefinitionNamer(apiserver.Scheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.Definitions, namer)
	cfg.OpenAPIConfig.Info.Title = "apps.cozy.io"
	cfg.OpenAPIConfig.Info.Version = appsv1alpha1.SchemeGroupVersion.Version
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.Definitions, namer)
	cfg.OpenAPIV3Config.Info.Title = "apps.cozy.io"
	cfg.OpenAPIV3Config.Info.Version = appsv1alpha1.SchemeGroupVersion.Version
	cfg.FeatureGate = utilfeature.DefaultFeatureGate
	cfg.EffectiveVersion = basecompatibility.NewEffectiveVersionFromString(baseversion.DefaultKubeBinaryVersion, "", "")
	if err := o.RecommendedOptions.ApplyTo(cfg); err != nil {
		return nil, err
	}
	// The aggregator's client certificate is verified once per connection, not per request.
	cfg.Authentication.Authenticator = frontproxy.New(cfg.Authentication.RequestHeaderConfig, cfg.Authentication.Authenticator)
	if cfg.ClientConfig != nil {
		cfg.ClientConfig.QPS, cfg.ClientConfig.Burst = o.KubeAPIQPS, o.KubeAPIBurst
		if traces := o.RecommendedOptions.Traces; traces == nil || traces.ConfigFile == "" {
			// Without a tracing configuration the tracer records nothing, yet the transport
			// wrapper the generic server puts on this client builds every request's span
			// attributes (a few percent of a GET's CPU, which reads from kube-apiserver once):
			// the server's own requests go without it. The wrapper is all CoreAPI adds.
			cfg.ClientConfig.WrapTransport = nil
		}
	}
	if o.AuthorizationConfig != "" {
		reloadable, err := authorization.New(o.AuthorizationConfig, "cozy-apiserver", cfg.ClientConfig, o.RecommendedOptions.Authorization.AlwaysAllowPaths)
		if err != nil {
			return nil, err
		}
		cfg.Authorization.Authorizer = reloadable
		o.authorizer = reloadable
	}
	return &apiserver.Config{
		GenericConfig: cfg,
		ExtraConfig: apiserver.ExtraConfig{Kinds: kindList, EventLogSize: o.EventLogSize, EventLogBytes: o.EventLogBytes.Value(), BookmarkInterval: o.BookmarkInterval,
			TenantSelector: o.TenantSelector, WorkloadStatus: o.WorkloadStatus, CredentialsSubresources: o.CredentialsSubresources,
			CrossNamespaceGroup: o.CrossNamespaceGroup, CrossNamespaceRefresh: o.CrossNamespaceRefresh, TenantRoles: o.tenantRoles()},
	}, nil
}

// tenantRoles are the roles named by the flags.
func (o *Options) tenantRoles() []tenantroles.Role {
	var roles []tenantroles.Role
	if o.ViewClusterRole != "" {
		roles = append(roles, tenantroles.View(o.ViewClusterRole))
	}
	if o.ListAcrossNamespacesClusterRole != "" {
		roles = append(roles, tenantroles.ListAcrossNamespaces(o.ListAcrossNamespacesClusterRole))
	}
	return roles
}

// Run builds and runs the server until ctx ends.
func (o *Options) Run(ctx context.Context) error {
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	srv, err := cfg.Complete().New()
	if err != nil {
		return err
	}
	if o.authorizer != nil {
		srv.GenericAPIServer.AddPostStartHookOrDie("authorization-config-reload", func(hook genericapiserver.PostStartHookContext) error {
			go o.authorizer.Run(hook)
			return nil
		})
	}
	return srv.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}
