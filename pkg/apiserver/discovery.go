package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/endpoints"
	"k8s.io/apiserver/pkg/endpoints/discovery"
	discoveryendpoint "k8s.io/apiserver/pkg/endpoints/discovery/aggregated"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
	"k8s.io/klog/v2"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/appobjects"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// groupDiscovery serves apps.cozy.io/v1alpha1's resource list, typed kinds first, then the defined
// kinds being served, in both forms: the legacy APIResourceList at /apis/apps.cozy.io/v1alpha1
// (its handler is k8s.io/apiserver's, fed from memory) and the group's entry in aggregated
// discovery (replaced in the generic server's resource manager on every change), as
// apiextensions-apiserver's discovery controller does for CRDs.
type groupDiscovery struct {
	typed     []metav1.APIResource
	resources atomic.Pointer[[]metav1.APIResource]
	// encoded is the legacy list as the handler answers a JSON request, made once per change, so
	// the common request (every discovery client asks for JSON) costs no encoding.
	encoded    atomic.Pointer[encodedList]
	handler    *discovery.APIVersionHandler
	aggregated discoveryendpoint.ResourceManager
}

// encodedList is one answer of the legacy list's handler.
type encodedList struct {
	contentType string
	body        []byte
}

// newGroupDiscovery starts from the typed kinds' resources as the generic server installed them:
// it asks the installed handler for the list once, so both stay exactly what InstallAPIGroup made.
func newGroupDiscovery(installed http.Handler, aggregated discoveryendpoint.ResourceManager) (*groupDiscovery, error) {
	gv := appsv1alpha1.SchemeGroupVersion
	rec := httptest.NewRecorder()
	installed.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/apis/"+gv.String(), nil))
	var list metav1.APIResourceList
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("reading the typed kinds' discovery: %d %s", rec.Code, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		return nil, fmt.Errorf("reading the typed kinds' discovery: %w", err)
	}
	typed := append(slices.Clone(list.APIResources), tenantNamespacesResource)
	for _, r := range list.APIResources {
		if !strings.Contains(r.Name, "/") {
			typed = append(typed, ownObjectResources(r.Name)...)
		}
	}
	d := &groupDiscovery{typed: typed, aggregated: aggregated}
	d.resources.Store(&typed)
	d.handler = discovery.NewAPIVersionHandler(Codecs, gv, discovery.APIResourceListerFunc(func() []metav1.APIResource {
		return *d.resources.Load()
	}))
	d.encode()
	return d, nil
}

// ServeHTTP answers a request for which the handler would write plain JSON from the list encoded
// at the last change, any other (YAML, protobuf, pretty) through the handler.
func (d *groupDiscovery) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if encoded := d.encoded.Load(); encoded != nil && negotiatesPlainJSON(req) {
		w.Header().Set("Content-Type", encoded.contentType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(encoded.body)
		return
	}
	d.handler.ServeHTTP(w, req)
}

// encode asks the handler for the list in JSON, as a client would, and keeps the answer.
func (d *groupDiscovery) encode() {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/apis/"+appsv1alpha1.SchemeGroupVersion.String(), nil)
	req.Header.Set("Accept", runtime.ContentTypeJSON)
	d.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		klog.ErrorS(nil, "Encoding apps.cozy.io discovery; answering each request through the handler", "code", rec.Code, "body", rec.Body.String())
		d.encoded.Store(nil)
		return
	}
	d.encoded.Store(&encodedList{contentType: rec.Header().Get("Content-Type"), body: rec.Body.Bytes()})
}

// negotiatesPlainJSON reports whether the discovery handler would answer req in JSON, not pretty
// printed, with the negotiation it uses itself.
func negotiatesPlainJSON(req *http.Request) bool {
	mediaType, info, err := negotiation.NegotiateOutputMediaType(req, Codecs, negotiation.DefaultEndpointRestrictions)
	return err == nil && info.MediaType == runtime.ContentTypeJSON && !mediaType.Pretty && info.Serializer == mediaType.Accepted.Serializer &&
		mediaType.Convert == nil
}

// update serves the typed kinds and the given defined kinds.
func (d *groupDiscovery) update(defined []*kinds.Defined) {
	resources := append([]metav1.APIResource{}, d.typed...)
	for _, k := range defined {
		resources = append(resources, definedResources(k)...)
	}
	d.resources.Store(&resources)
	d.encode()
	if d.aggregated == nil {
		return
	}
	converted, err := endpoints.ConvertGroupVersionIntoToDiscovery(resources)
	if err != nil {
		klog.ErrorS(err, "Converting apps.cozy.io discovery; aggregated discovery keeps the previous list")
		return
	}
	d.aggregated.AddGroupVersion(appsv1alpha1.GroupName, apidiscoveryv2.APIVersionDiscovery{
		Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
		Version:   appsv1alpha1.SchemeGroupVersion.Version,
		Resources: converted,
	})
}

// definedResources are a defined kind's resource and its status subresource, with the verbs,
// category and names a CRD of the same description gets, and its own objects' subresources.
func definedResources(d *kinds.Defined) []metav1.APIResource {
	names := d.CRD.Spec.Names
	return append([]metav1.APIResource{
		{
			Name: names.Plural, SingularName: names.Singular, Namespaced: true, Kind: names.Kind,
			Verbs:      metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
			Categories: []string{release.Category},
		},
		{Name: names.Plural + "/status", Namespaced: true, Kind: names.Kind, Verbs: metav1.Verbs{"get"}},
	}, ownObjectResources(names.Plural)...)
}

// ownObjectResources are the subresources every kind serves with an application's own objects
// (see own_objects.go), each answering a list of another group's type.
func ownObjectResources(plural string) []metav1.APIResource {
	var out []metav1.APIResource
	for _, t := range appobjects.Types {
		out = append(out, metav1.APIResource{Name: plural + "/" + t.Subresource, Namespaced: true,
			Group: t.Resource.Group, Version: t.Resource.Version, Kind: t.ListKind, Verbs: metav1.Verbs{"get"}})
	}
	return out
}
