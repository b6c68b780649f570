// Package apiserver assembles the apps.cozy.io aggregated API server: the generic server from
// k8s.io/apiserver, one storage per kind, and the shared HelmRelease cache they read from.
package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/catalog"
	"github.com/cozystack/apps-apiserver/pkg/crossnamespace"
	"github.com/cozystack/apps-apiserver/pkg/openapi"
	"github.com/cozystack/apps-apiserver/pkg/registry"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/releasecache"
	"github.com/cozystack/apps-apiserver/pkg/requestdecode"
	"github.com/cozystack/apps-apiserver/pkg/subresources"
	"github.com/cozystack/apps-apiserver/pkg/tenancy"
	"github.com/cozystack/apps-apiserver/pkg/tenantnamespaces"
	"github.com/cozystack/apps-apiserver/pkg/tenantroles"
	"github.com/cozystack/apps-apiserver/pkg/validation"
	"github.com/cozystack/apps-apiserver/pkg/workloadstatus"
)

// ExtraConfig is what this server needs beyond the generic server's configuration.
type ExtraConfig struct {
	// Kinds are the kinds to serve, with their chart settings.
	Kinds []*release.Kind
	// EventLogSize is how many recent changes the cache keeps for watches that resume.
	EventLogSize int
	// EventLogBytes bounds the old object versions those changes keep alive (0: no bound).
	EventLogBytes int64
	// BookmarkInterval is how often watchers that ask for bookmarks get one.
	BookmarkInterval time.Duration
	// TenantSelector is the label selector of tenant namespaces, the only ones accepting writes.
	TenantSelector string
	// WorkloadStatus runs the projector of workload objects' state into the kinds' status.
	WorkloadStatus bool
	// CredentialsSubresources lets kuberneteses/kubeconfig and buckets/credentials read the
	// platform's Secrets; off, they answer 501.
	CredentialsSubresources bool
	// CrossNamespaceGroup is the group granted list and watch on the kinds in every namespace so
	// its members can list across namespaces; its rights do not count in what lists show.
	CrossNamespaceGroup string
	// CrossNamespaceRefresh is how often an open watch across namespaces asks the authorizer again
	// which namespaces its user may read.
	CrossNamespaceRefresh time.Duration
	// TenantRoles are the ClusterRoles whose apps.cozy.io rules follow the served kinds.
	TenantRoles []tenantroles.Role
}

// Config is the complete configuration of the server.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

// CompletedConfig is a Config whose defaults have been filled in; only it can build a Server.
type CompletedConfig struct {
	generic      genericapiserver.CompletedConfig
	clientConfig *restclient.Config
	extra        *ExtraConfig
}

// Server is the running apps.cozy.io server.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
	// Cache is the shared read model, exposed for readiness checks and tests.
	Cache *releasecache.Cache
}

// Complete fills in defaults.
func (cfg *Config) Complete() CompletedConfig {
	if cfg.ExtraConfig.EventLogSize <= 0 {
		cfg.ExtraConfig.EventLogSize = 10000
	}
	if cfg.ExtraConfig.CrossNamespaceGroup == "" {
		cfg.ExtraConfig.CrossNamespaceGroup = user.AllAuthenticated
	}
	if cfg.ExtraConfig.CrossNamespaceRefresh <= 0 {
		cfg.ExtraConfig.CrossNamespaceRefresh = 10 * time.Second
	}
	if cfg.ExtraConfig.TenantSelector == "" {
		cfg.ExtraConfig.TenantSelector = tenancy.DefaultSelector
	}
	return CompletedConfig{generic: cfg.GenericConfig.Complete(), clientConfig: cfg.GenericConfig.ClientConfig, extra: &cfg.ExtraConfig}
}

// New builds the server: it installs apps.cozy.io/v1alpha1 with one storage per kind and starts
// the HelmRelease cache once the server runs. The server is ready only after the cache synced.
func (c CompletedConfig) New() (*Server, error) {
	// Kinds defined by ApplicationDefinitions are served by the router in front of the typed kinds.
	router := newKindRouter(c.extra.Kinds)
	c.generic.BuildHandlerChainFunc = func(apiHandler http.Handler, cfg *genericapiserver.Config) http.Handler {
		return buildHandlerChain(router.wrap(apiHandler), cfg)
	}
	// Lists and watches show the namespaces where the user may make them on their own rights.
	var filter *crossnamespace.Filter
	if authz := c.generic.Authorization.Authorizer; authz != nil {
		filter = crossnamespace.NewFilter(authz, c.extra.CrossNamespaceGroup, c.extra.CrossNamespaceRefresh)
	}
	generic, err := c.generic.New("cozy-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	clientConfig := c.clientConfig
	if clientConfig == nil {
		return nil, errors.New("no kube-apiserver client configuration: set --kubeconfig or run in a cluster")
	}
	dyn, err := dynamic.NewForConfig(clientConfig)
	if err != nil {
		return nil, fmt.Errorf("creating HelmRelease client: %w", err)
	}
	meta, err := metadata.NewForConfig(clientConfig)
	if err != nil {
		return nil, fmt.Errorf("creating HelmRelease metadata client: %w", err)
	}
	kube, err := kubernetes.NewForConfig(clientConfig)
	if err != nil {
		return nil, fmt.Errorf("creating Kubernetes client: %w", err)
	}
	if !c.extra.WorkloadStatus {
		// Without the projector no workload state is ever recorded: Ready is Flux's alone.
		for _, kind := range c.extra.Kinds {
			kind.Workloads, kind.ProjectWorkloads = nil, nil
		}
	}
	// Definitions of the typed kinds give their release layout (prefix, chart, labels): read here
	// so the first requests have it, then kept by the catalog while the server runs.
	configureTypedKinds(dyn, c.extra.Kinds)
	releases := dyn.Resource(release.HelmReleaseGVR)
	releaseCache := releasecache.New(router.converter(), c.extra.EventLogSize, c.extra.BookmarkInterval)
	router.onKindsChanged, router.onResourceGone = releaseCache.Reconvert, releaseCache.EndWatches
	releaseCache.SetKindLabel(release.LabelApplicationKind)
	releaseCache.LimitEventLogBytes(c.extra.EventLogBytes)
	releasecache.RegisterMetrics()
	gate, err := tenancy.NewChecker(c.extra.TenantSelector, c.generic.SharedInformerFactory.Core().V1().Namespaces().Lister(), kube)
	if err != nil {
		return nil, err
	}

	subresourceBackend := subresources.Backend{Dynamic: dyn, PatchMainResource: router.patchMainResource}
	if c.extra.CredentialsSubresources {
		subresourceBackend.Secrets = kube.CoreV1()
	}
	router.ownObjects = ownObjectsReader{client: dyn, secrets: c.extra.CredentialsSubresources}
	backend := registry.Backend{Cache: releaseCache, Releases: releases, ReleaseMeta: meta.Resource(release.HelmReleaseGVR), Gate: gate, Filter: filter}
	group := genericapiserver.NewDefaultAPIGroupInfo(appsv1alpha1.GroupName, Scheme, metav1.ParameterCodec, Codecs)
	storage := map[string]rest.Storage{}
	coercers := map[runtime.Object]requestdecode.Coercer{}
	for _, kind := range c.extra.Kinds {
		model, err := registry.ModelName(kind.New())
		if err != nil {
			return nil, err
		}
		specSchema, err := validation.New(openapi.Definitions, model)
		if err != nil {
			return nil, fmt.Errorf("schema of %s: %w", kind, err)
		}
		kind.DefaultSpec = specSchema.Default
		s, err := registry.NewREST(kind, appsv1alpha1.SchemeGroupVersion, Scheme, specSchema, backend)
		if err != nil {
			return nil, err
		}
		status := registry.NewStatusREST(s)
		router.typedKinds[kind.Resource] = typedKind{kind: kind, schema: specSchema,
			kindHandlers: &kindHandlers{storage: s, status: status, patchTypes: typedPatchTypes}}
		storage[kind.Resource] = s
		storage[kind.Resource+"/status"] = status
		subs, err := subresources.For(kind, s, subresourceBackend)
		if err != nil {
			return nil, err
		}
		for path, sub := range subs {
			storage[kind.Resource+"/"+path] = sub
		}
		coercers[kind.New()] = specSchema
	}
	// Request bodies are checked against the schema as JSON before they become Go structs.
	group.NegotiatedSerializer = requestdecode.NewNegotiatedSerializer(Codecs, coercers)
	group.VersionedResourcesStorageMap[appsv1alpha1.SchemeGroupVersion.Version] = storage
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing %s: %w", appsv1alpha1.GroupName, err)
	}
	if err := router.serveDefinedKinds(c.generic, generic, backend); err != nil {
		return nil, err
	}
	// The typed kinds' main resource and status go the defined kinds' way through the router,
	// with the scopes the installer made for them (server-side apply from the group's OpenAPI).
	typeConverter, err := managedfields.NewTypeConverter(group.StaticOpenAPISpec, false)
	if err != nil {
		return nil, fmt.Errorf("server-side apply of %s: %w", appsv1alpha1.GroupName, err)
	}
	for _, typed := range router.typedKinds {
		if typed.scope, typed.statusScope, err = router.scopes.typedScopes(typed.kind, typed.kindHandlers, group.NegotiatedSerializer, typeConverter); err != nil {
			return nil, err
		}
	}
	router.serveTenantNamespaces(tenantnamespaces.New(appsv1alpha1.SchemeGroupVersion, c.generic.SharedInformerFactory.Core().V1().Namespaces().Lister(),
		gate.Selector(), router.visibleTenantNamespaces(filter), c.extra.CrossNamespaceRefresh))
	router.announcer = newAnnouncer(dyn)
	generic.AddPostStartHookOrDie("serve-defined-kinds-openapi", func(genericapiserver.PostStartHookContext) error {
		o, err := newGroupOpenAPI(generic)
		if err != nil {
			return err
		}
		router.serveOpenAPI(o)
		return nil
	})
	definitions := catalog.New(dyn, c.extra.Kinds, router.publish, newEventRecorder(kube))
	generic.AddPostStartHookOrDie("start-application-catalog", func(hook genericapiserver.PostStartHookContext) error {
		go definitions.Run(hook)
		return nil
	})
	if len(c.extra.TenantRoles) > 0 {
		// Tenants' rights follow the kinds: written once the catalog settled, never before.
		keeper := tenantroles.New(kube.RbacV1().ClusterRoles(), appsv1alpha1.GroupName, c.extra.TenantRoles, definitions.Ready)
		router.onServed = keeper.Serve
		generic.AddPostStartHookOrDie("keep-tenant-roles", func(hook genericapiserver.PostStartHookContext) error {
			go keeper.Run(hook)
			return nil
		})
	}

	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			if opts.LabelSelector == "" {
				// Every release of a kind; the cache lists some kinds alone (Reconvert).
				opts.LabelSelector = release.LabelApplicationKind
			}
			return releases.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = release.LabelApplicationKind
			return releases.Watch(ctx, opts)
		},
	}
	generic.AddPostStartHookOrDie("start-helmrelease-cache", func(hook genericapiserver.PostStartHookContext) error {
		go releaseCache.Run(hook, lw)
		return nil
	})
	if c.extra.WorkloadStatus {
		projector := workloadstatus.New(c.extra.Kinds, dyn, kube.Discovery())
		events := workloadstatus.NewEventSource(projector, kube, appsv1alpha1.SchemeGroupVersion.String(), router.releaseKind)
		generic.AddPostStartHookOrDie("start-workload-status", func(hook genericapiserver.PostStartHookContext) error {
			go projector.Run(hook, 2)
			go events.Run(hook)
			return nil
		})
	}
	if err := generic.AddReadyzChecks(healthz.NamedCheck("application-catalog", func(*http.Request) error {
		return definitions.Ready()
	})); err != nil {
		return nil, err
	}
	if err := generic.AddReadyzChecks(healthz.NamedCheck("helmrelease-cache", func(*http.Request) error {
		if !releaseCache.HasSynced() {
			return errors.New("HelmRelease cache not synced yet")
		}
		return nil
	})); err != nil {
		return nil, err
	}
	return &Server{GenericAPIServer: generic, Cache: releaseCache}, nil
}

// convertRelease converts a HelmRelease of the kind into the object it stores.
func convertRelease(kind *release.Kind, hr *unstructured.Unstructured) (string, runtime.Object, bool) {
	obj, err := kind.ToObject(appsv1alpha1.SchemeGroupVersion, hr)
	var unreadable *release.UnreadableError
	if errors.As(err, &unreadable) {
		// Served with a condition saying why, so its tenant sees it and can delete it.
		klog.InfoS("HelmRelease values do not decode; serving the object with Ready=False", "namespace", hr.GetNamespace(), "name", hr.GetName(), "err", err)
	} else if err != nil {
		klog.ErrorS(err, "Ignoring HelmRelease that does not convert", "namespace", hr.GetNamespace(), "name", hr.GetName())
		return "", nil, false
	}
	return kind.Kind, obj, true
}
