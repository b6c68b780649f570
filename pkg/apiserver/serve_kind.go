package apiserver

import (
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/endpoints/handlers"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/metrics"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

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
