package apiserver

import (
	"context"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/request"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/crossnamespace"
	"github.com/cozystack/apps-apiserver/pkg/tenantnamespaces"
)

// tenantNamespacesResource is the discovery entry of tenantnamespaces.
var tenantNamespacesResource = metav1.APIResource{
	Name: tenantnamespaces.Resource, SingularName: "tenantnamespace", Namespaced: false,
	Kind: tenantnamespaces.Kind, Verbs: metav1.Verbs{"get", "list", "watch"},
}

// visibleTenantNamespaces is the Visibility of tenantnamespaces: the namespaces where the user
// may list one of the kinds served now, on their own rights; every one without a filter (a server
// without an authorizer).
func (r *kindRouter) visibleTenantNamespaces(filter *crossnamespace.Filter) tenantnamespaces.Visibility {
	gv := appsv1alpha1.SchemeGroupVersion
	return func(ctx context.Context, namespaces []string) (map[string]bool, error) {
		if filter == nil {
			out := make(map[string]bool, len(namespaces))
			for _, ns := range namespaces {
				out[ns] = true
			}
			return out, nil
		}
		return filter.MayListAny(ctx, gv.Group, gv.Version, r.served.Load().resources(), namespaces)
	}
}

// serveTenantNamespaces readies tenantnamespaces behind the generic handlers, with unstructured
// objects and tables as for a defined kind; field selectors take metadata.name only.
func (r *kindRouter) serveTenantNamespaces(storage *tenantnamespaces.REST) {
	gvk := appsv1alpha1.SchemeGroupVersion.WithKind(tenantnamespaces.Kind)
	scope := r.scopes.unstructuredScope(gvk, tenantnamespaces.Resource, true, func(label, value string) (string, string, error) {
		if label != "metadata.name" {
			return "", "", fmt.Errorf("field label not supported: %s", label)
		}
		return label, value, nil
	}, nil)
	scope.TableConvertor = storage
	r.tenantNamespaces, r.tenantNamespacesScope = storage, &scope
}

// tenantNamespacesHandler is the handler of a tenantnamespaces request, or nil when it is not one.
func (r *kindRouter) tenantNamespacesHandler(info *request.RequestInfo) http.HandlerFunc {
	if r.tenantNamespaces == nil || info.Resource != tenantnamespaces.Resource || info.Namespace != "" || info.Subresource != "" {
		return nil
	}
	if read := r.readHandler(r.tenantNamespaces, r.tenantNamespacesScope, info.Verb); read != nil {
		return read
	}
	return func(w http.ResponseWriter, req *http.Request) {
		gv := appsv1alpha1.SchemeGroupVersion
		err := apierrors.NewMethodNotSupported(schema.GroupResource{Group: gv.Group, Resource: tenantnamespaces.Resource}, info.Verb)
		responsewriters.ErrorNegotiated(err, Codecs, gv, w, req)
	}
}
