package apiserver

import (
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/endpoints/handlers"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/metrics"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/klog/v2"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/appobjects"
	"github.com/cozystack/apps-apiserver/pkg/catalog"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/registry"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/releasecache"
	"github.com/cozystack/apps-apiserver/pkg/tenantnamespaces"
	"github.com/cozystack/apps-apiserver/pkg/validation"
)

// kindRouter serves the kinds defined by ApplicationDefinitions, which come and go while the
// server runs, as apiextensions-apiserver's customresource_handler serves CRDs: each request for
// apps.cozy.io/v1alpha1 whose resource is a defined kind goes to that kind's current storage
// through k8s.io/apiserver's generic handlers; every other request goes on to the typed kinds,
// installed once. The served set is replaced atomically: a request finds its storage with one
// lookup and keeps it to the end, and no change cuts an open watch of another kind.
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
	// onKindsChanged is told when the kinds releases convert to have changed (the cache relists);
	// onResourceGone when a defined kind's resource is no longer served (its watches end).
	onKindsChanged func()
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

// typedKind is a typed kind with its schema, storage and the generic handlers' scopes for it.
type typedKind struct {
	kind    *release.Kind
	schema  *validation.Schema
	storage *registry.REST
	// served are its main resource's and status's handlers, as a defined kind's (nil until the
	// router serves the typed kinds; their other subresources stay with the installed group).
	served *kindHandlers
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
	r := &kindRouter{typed: map[string]*release.Kind{}, typedKinds: map[string]typedKind{}, onKindsChanged: func() {}, onResourceGone: func(string) {}, onServed: func([]string) {}}
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
		if ok && typed.served != nil && (info.Namespace != "" || possiblyAcrossNamespaces[info.Verb]) && (info.Subresource == "" || info.Subresource == "status") {
			// A typed kind's main resource and status take the defined kinds' path; its other
			// subresources (kubeconfig, credentials, power) the installed group's.
			r.serveKind(w, req, info, typed.served)
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

// serveKind serves a request for a kind's main resource or status through k8s.io/apiserver's
// generic handlers, counted in the server's request metrics, as apiextensions-apiserver serves a
// custom resource.
func (r *kindRouter) serveKind(w http.ResponseWriter, req *http.Request, info *request.RequestInfo, k *kindHandlers) {
	gv := appsv1alpha1.SchemeGroupVersion
	var handler http.HandlerFunc
	switch info.Subresource {
	case "":
		handler = r.serveResource(k, info.Verb)
	case "status":
		handler = r.serveStatus(k, info.Verb)
	}
	if handler == nil {
		err := apierrors.NewNotFound(schema.GroupResource{Group: gv.Group, Resource: info.Resource + "/" + info.Subresource}, info.Name)
		if info.Subresource == "" || info.Subresource == "status" {
			err = apierrors.NewMethodNotSupported(schema.GroupResource{Group: gv.Group, Resource: info.Resource}, info.Verb)
		}
		responsewriters.ErrorNegotiated(err, Codecs, gv, w, req)
		return
	}
	metrics.InstrumentHandlerFunc(strings.ToUpper(info.Verb), info.APIGroup, info.APIVersion, info.Resource, info.Subresource,
		metrics.CleanScope(info), metrics.APIServerComponent, false, "", handler).ServeHTTP(w, req)
}

// customResourcePatchTypes are the patches a custom resource accepts, and a defined kind;
// typedPatchTypes add the strategic merge patch, as for built-in types.
var (
	customResourcePatchTypes = []string{string(types.JSONPatchType), string(types.MergePatchType), string(types.ApplyYAMLPatchType)}
	typedPatchTypes          = append([]string{string(types.StrategicMergePatchType)}, customResourcePatchTypes...)
)

// readStorage is a storage the generic read handlers serve.
type readStorage interface {
	rest.Getter
	rest.Lister
	rest.Watcher
}

// readHandler is the generic handler of a read verb (get, list, watch), or nil for another verb.
func (r *kindRouter) readHandler(storage readStorage, scope *handlers.RequestScope, verb string) http.HandlerFunc {
	switch verb {
	case "get":
		return handlers.GetResource(storage, scope)
	case "list":
		return handlers.ListResource(storage, storage, scope, false, r.minRequestTimeout)
	case "watch":
		return handlers.ListResource(storage, storage, scope, true, r.minRequestTimeout)
	}
	return nil
}

func (r *kindRouter) serveResource(k *kindHandlers, verb string) http.HandlerFunc {
	if read := r.readHandler(k.storage, k.scope, verb); read != nil {
		return read
	}
	switch verb {
	case "create":
		return handlers.CreateResource(k.storage, k.scope, r.admission)
	case "update":
		return handlers.UpdateResource(k.storage, k.scope, r.admission)
	case "patch":
		return handlers.PatchResource(k.storage, k.scope, r.admission, k.patchTypes)
	case "delete":
		return handlers.DeleteResource(k.storage, true, k.scope, r.admission)
	case "deletecollection":
		return handlers.DeleteCollection(k.storage, true, k.scope, r.admission)
	}
	return nil
}

func (r *kindRouter) serveStatus(k *kindHandlers, verb string) http.HandlerFunc {
	// Status is projected from the release and its workloads, never written: read-only, as for
	// the typed kinds.
	if verb == "get" {
		return handlers.GetResource(k.status, k.statusScope)
	}
	return nil
}

// publish serves exactly the given defined kinds from now on. A kind whose description did not
// change keeps its storage; a new or changed one gets a new storage and scopes. It returns the
// kinds that could not be served, by definition name, and serves the others.
func (r *kindRouter) publish(p catalog.Published) map[string]error {
	defined := p.Defined
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.served.Load()
	next := &servedSet{byResource: map[string]*servedKind{}, byApplicationKind: map[string]*release.Kind{}, typedOwnObjects: p.TypedOwnObjects}
	if next.typedOwnObjects == nil {
		next.typedOwnObjects = map[string]appobjects.Selections{}
	}
	for k, v := range r.typed {
		next.byApplicationKind[k] = v
	}
	failed := map[string]error{}
	for _, d := range defined {
		if prev := old.byResource[d.Kind.Resource]; prev != nil && prev.defined == d {
			next.byResource[d.Kind.Resource] = prev
			next.byApplicationKind[d.Kind.ApplicationKind] = d.Kind
			continue
		}
		served, err := r.serve(d)
		if err != nil {
			failed[d.Definition] = err
			if prev := old.byResource[d.Kind.Resource]; prev != nil && prev.defined.Definition == d.Definition {
				// Keep what was served before.
				next.byResource[d.Kind.Resource] = prev
				next.byApplicationKind[prev.defined.Kind.ApplicationKind] = prev.defined.Kind
			}
			continue
		}
		next.byResource[d.Kind.Resource] = served
		next.byApplicationKind[d.Kind.ApplicationKind] = d.Kind
	}
	moved := r.setTypedLayouts(p.TypedLayouts)
	r.served.Store(next)
	for resource, prev := range old.byResource {
		now := next.byResource[resource]
		if now == nil || now.defined.Kind.Kind != prev.defined.Kind.Kind || now.defined.Kind.Layout.ReleasePrefix != prev.defined.Kind.Layout.ReleasePrefix {
			moved = append(moved, prev.defined.Kind.Kind)
		}
	}
	if len(moved) > 0 || !sameReleaseKinds(old.byApplicationKind, next.byApplicationKind) {
		r.onKindsChanged()
	}
	for _, kind := range moved {
		// Its objects are others now, or none: as when a CRD's storage is replaced, its watches
		// end and their clients list again.
		r.onResourceGone(kind)
	}
	if r.discovery != nil {
		r.discovery.update(next.definedKinds())
	}
	if r.openapi != nil {
		r.openapi.update(next.openAPIs())
	}
	if r.announcer != nil {
		r.announcer.announce(servedKindsDigest(next))
	}
	r.onServed(next.resources())
	return failed
}

// setTypedLayouts gives each typed kind the release layout its definition gives (layouts, by
// resource), or its own without one. It returns the kinds whose releases now have another prefix:
// their objects are other releases now.
func (r *kindRouter) setTypedLayouts(layouts map[string]*release.Layout) []string {
	var moved []string
	for _, k := range r.typed {
		before := k.ReleaseLayout().ReleasePrefix
		if k.SetDefinedLayout(layouts[k.Resource]) {
			layout := k.ReleaseLayout()
			klog.InfoS("Typed kind's release layout changed", "kind", k.Kind, "releasePrefix", layout.ReleasePrefix, "chart", layout.Chart.ChartRef, "labels", layout.ReleaseLabels)
			if layout.ReleasePrefix != before {
				moved = append(moved, k.Kind)
			}
		}
	}
	return moved
}

// serve builds a defined kind's storage and request scopes.
func (r *kindRouter) serve(d *kinds.Defined) (*servedKind, error) {
	storage, err := registry.NewREST(d.Kind, appsv1alpha1.SchemeGroupVersion, Scheme, d.Schema, r.backend)
	if err != nil {
		return nil, err
	}
	openapi, err := buildKindOpenAPI(d)
	if err != nil {
		return nil, err
	}
	scope, statusScope, err := r.scopes.requestScopes(d, storage, openapi)
	if err != nil {
		return nil, err
	}
	gvr := appsv1alpha1.SchemeGroupVersion.WithResource(d.Kind.Resource)
	if mapper := r.scopes.base.EquivalentResourceMapper; mapper != nil {
		if registry, ok := mapper.(interface {
			RegisterKindFor(resource schema.GroupVersionResource, subresource string, kind schema.GroupVersionKind)
		}); ok {
			registry.RegisterKindFor(gvr, "", d.GroupVersionKind())
			registry.RegisterKindFor(gvr, "status", d.GroupVersionKind())
		}
	}
	klog.InfoS("Serving defined kind", "kind", d.Kind.Kind, "resource", d.Kind.Resource, "definition", d.Definition, "generation", d.Generation)
	return &servedKind{kindHandlers: kindHandlers{storage: storage, status: registry.NewStatusREST(storage), scope: scope, statusScope: statusScope, patchTypes: customResourcePatchTypes}, defined: d, openapi: openapi}, nil
}

// typedOwnObjects are a typed kind's own-object selections: from its definition as last
// published, or as read at start-up before the catalog first published.
func (r *kindRouter) typedOwnObjects(k *release.Kind) appobjects.Selections {
	if published := r.served.Load().typedOwnObjects; published != nil {
		return published[k.Resource]
	}
	return k.OwnObjects
}

// resources are the resources of every kind served, typed and defined.
func (s *servedSet) resources() []string {
	out := make([]string, 0, len(s.byApplicationKind))
	for _, k := range s.byApplicationKind {
		out = append(out, k.Resource)
	}
	return out
}

// definedKinds lists the served defined kinds by resource name.
func (s *servedSet) definedKinds() []*kinds.Defined {
	out := make([]*kinds.Defined, 0, len(s.byResource))
	for _, k := range s.byResource {
		out = append(out, k.defined)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind.Resource < out[j].Kind.Resource })
	return out
}

// openAPIs are the served defined kinds' OpenAPI, by resource name.
func (s *servedSet) openAPIs() []*kindOpenAPI {
	defined := s.definedKinds()
	out := make([]*kindOpenAPI, 0, len(defined))
	for _, d := range defined {
		out = append(out, s.byResource[d.Kind.Resource].openapi)
	}
	return out
}

// serveOpenAPI makes the server's OpenAPI follow the served kinds from now on; it is called once
// the generic server installed its OpenAPI (PrepareRun).
func (r *kindRouter) serveOpenAPI(o *groupOpenAPI) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.openapi = o
	o.update(r.served.Load().openAPIs())
}

// sameReleaseKinds reports whether releases convert exactly as before.
func sameReleaseKinds(a, b map[string]*release.Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
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
