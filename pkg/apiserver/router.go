package apiserver

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/endpoints/handlers"
	"k8s.io/apiserver/pkg/endpoints/request"
	genericapiserver "k8s.io/apiserver/pkg/server"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/appobjects"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/registry"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/releasecache"
	"github.com/cozystack/apps-apiserver/pkg/tenantnamespaces"
	"github.com/cozystack/apps-apiserver/pkg/validation"
)

// kindRouter serves every apps.cozy.io kind, typed and defined, as apiextensions-apiserver's
// customresource_handler serves CRDs: each request for a kind's main resource or status goes to
// the current storage of its resource through k8s.io/apiserver's generic handlers (serve_kind.go);
// the typed kinds' other subresources, and everything else, go on to the group installed once.
// Defined kinds come and go with their ApplicationDefinitions (publish.go): the served set is
// replaced atomically, a request finds its storage with one lookup and keeps it to the end, and no
// change cuts an open watch of another kind.
type kindRouter struct {
	served atomic.Pointer[servedSet]
	// mu serializes publishing; serving never takes it.
	mu                sync.Mutex
	scopes            scopeConfig
	backend           registry.Backend
	admission         admission.Interface
	minRequestTimeout time.Duration
	discovery         *groupDiscovery
	openapi           *groupOpenAPI
	announcer         *announcer
	// typed are the typed kinds by application kind, for the cache's converter.
	typed map[string]*release.Kind
	// typedKinds are the typed kinds by resource, for what the router serves of every kind.
	typedKinds map[string]typedKind
	// onKindsChanged is told the application kinds whose releases convert otherwise now (the
	// cache converts them again); onResourceGone when a kind's resource is no longer served, or
	// serves other releases (its watches end).
	onKindsChanged func(applicationKinds ...string)
	onResourceGone func(kind string)
	// ownObjects reads the Secrets, Services and Ingresses that belong to an application.
	ownObjects ownObjectsReader
	// tenantNamespaces serves the tenant namespaces a user may work in (tenant_namespaces.go).
	tenantNamespaces      *tenantnamespaces.REST
	tenantNamespacesScope *handlers.RequestScope
	// onServed is told every resource served, typed and defined, after each publish.
	onServed func(resources []string)
	next     http.Handler
}

// typedKind is a typed kind with its schema, and what the router serves its main resource and
// status with, as a defined kind's (the scopes are set once the group is installed; its other
// subresources stay with the installed group).
type typedKind struct {
	kind   *release.Kind
	schema *validation.Schema
	*kindHandlers
}

// servedSet is one published set of defined kinds.
type servedSet struct {
	byResource map[string]*servedKind
	// byApplicationKind holds every kind, typed and defined, by the release label's value.
	byApplicationKind map[string]*release.Kind
	// typedOwnObjects are the typed kinds' own-object selections from their definitions as now
	// published, by resource; nil before the catalog first published (then the selections read
	// at start-up hold).
	typedOwnObjects map[string]appobjects.Selections
}

// servedKind is a defined kind's storage and the generic handlers' scopes for it.
type servedKind struct {
	kindHandlers
	defined *kinds.Defined
	openapi *kindOpenAPI
}

// kindHandlers are what the router serves a kind's main resource and status with, typed or
// defined alike: its storage and the generic handlers' scopes for it.
type kindHandlers struct {
	storage     *registry.REST
	status      *registry.StatusREST
	scope       *handlers.RequestScope
	statusScope *handlers.RequestScope
	// patchTypes are the patches the kind accepts: a typed kind's Go types take strategic merge
	// patches too.
	patchTypes []string
}

func newKindRouter(typed []*release.Kind) *kindRouter {
	r := &kindRouter{typed: map[string]*release.Kind{}, typedKinds: map[string]typedKind{}, onKindsChanged: func(...string) {}, onResourceGone: func(string) {}, onServed: func([]string) {}}
	for _, k := range typed {
		r.typed[k.ApplicationKind] = k
	}
	r.served.Store(&servedSet{byResource: map[string]*servedKind{}, byApplicationKind: r.typed})
	return r
}

// serveDefinedKinds readies the router once the typed kinds are installed: the generic server's
// authorizer, admission, limits and discovery, and the storage backend every kind shares.
func (r *kindRouter) serveDefinedKinds(cfg genericapiserver.CompletedConfig, generic *genericapiserver.GenericAPIServer, backend registry.Backend) error {
	r.scopes.base = handlers.RequestScope{
		ParameterCodec:           metav1.ParameterCodec,
		Authorizer:               cfg.Authorization.Authorizer,
		EquivalentResourceMapper: cfg.EquivalentResourceRegistry,
		MaxRequestBodyBytes:      cfg.MaxRequestBodyBytes,
	}
	r.backend = backend
	r.admission = cfg.AdmissionControl
	r.minRequestTimeout = time.Duration(cfg.MinRequestTimeout) * time.Second
	discovery, err := newGroupDiscovery(generic.Handler.GoRestfulContainer, generic.AggregatedDiscoveryGroupManager)
	if err != nil {
		return err
	}
	r.discovery = discovery
	return nil
}

// wrap puts the router in front of the typed kinds' handler.
func (r *kindRouter) wrap(next http.Handler) http.Handler {
	r.next = next
	return r
}

// releaseKind is the kind whose releases carry the application-kind label value, or nil.
func (r *kindRouter) releaseKind(applicationKind string) *release.Kind {
	return r.served.Load().byApplicationKind[applicationKind]
}

// possiblyAcrossNamespaces are the verbs a namespaced kind serves without a namespace.
var possiblyAcrossNamespaces = map[string]bool{"list": true, "watch": true}

func (r *kindRouter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if serveOpenAPIv3WithAnyHash(r.next, w, req) {
		return
	}
	gv := appsv1alpha1.SchemeGroupVersion
	if req.Method == http.MethodGet && strings.TrimSuffix(req.URL.Path, "/") == "/apis/"+gv.String() && r.discovery != nil {
		// The group version's resource list (RequestInfo names no group for it).
		r.discovery.ServeHTTP(w, req)
		return
	}
	info, ok := request.RequestInfoFrom(req.Context())
	if !ok || !info.IsResourceRequest || info.APIGroup != gv.Group || info.APIVersion != gv.Version {
		r.next.ServeHTTP(w, req)
		return
	}
	if handler := r.tenantNamespacesHandler(info); handler != nil {
		handler.ServeHTTP(w, req)
		return
	}
	kind := r.served.Load().byResource[info.Resource]
	if kind == nil || (info.Namespace == "" && !possiblyAcrossNamespaces[info.Verb]) {
		typed, ok := r.typedKinds[info.Resource]
		if ok && (refuseTooDeepMergePatch(w, req, info, typed.kind.Kind, typed.schema) || r.serveOwnObjects(w, req, info, typed.kind, r.typedOwnObjects(typed.kind), typed.storage)) {
			return
		}
		if ok && typed.scope != nil && (info.Namespace != "" || possiblyAcrossNamespaces[info.Verb]) && (info.Subresource == "" || info.Subresource == "status") {
			// A typed kind's main resource and status take the defined kinds' path; its other
			// subresources (kubeconfig, credentials, power) the installed group's.
			r.serveKind(w, req, info, typed.kindHandlers)
			return
		}
		r.next.ServeHTTP(w, req)
		return
	}
	if refuseTooDeepMergePatch(w, req, info, kind.defined.Kind.Kind, kind.defined.Schema) || r.serveOwnObjects(w, req, info, kind.defined.Kind, kind.defined.Kind.OwnObjects, kind.storage) {
		return
	}
	r.serveKind(w, req, info, &kind.kindHandlers)
}

// typedOwnObjects are a typed kind's own-object selections: from its definition as last
// published, or as read at start-up before the catalog first published.
func (r *kindRouter) typedOwnObjects(k *release.Kind) appobjects.Selections {
	if published := r.served.Load().typedOwnObjects; published != nil {
		return published[k.Resource]
	}
	return k.OwnObjects
}

// converter routes each HelmRelease to its kind, typed or defined, by the application-kind label
// and converts it once.
func (r *kindRouter) converter() releasecache.Converter {
	return func(hr *unstructured.Unstructured) (string, runtime.Object, bool) {
		kind := r.releaseKind(hr.GetLabels()[release.LabelApplicationKind])
		if kind == nil {
			return "", nil, false
		}
		return convertRelease(kind, hr)
	}
}
