package apiserver

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apiserver/pkg/endpoints/handlers"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// typedScopes builds the generic handlers' scopes the router serves a typed kind's main resource
// and status with (h holds their storages), made as k8s.io/apiserver's installer makes them for
// the routes InstallAPIGroup installed (Go types through the Scheme, the group's serializer that
// checks request bodies against the kind's schema, server-side apply from the group's OpenAPI),
// so typed and defined kinds are served by one path.
func (c scopeConfig) typedScopes(kind *release.Kind, h *kindHandlers, serializer runtime.NegotiatedSerializer, typeConverter managedfields.TypeConverter) (main, status *handlers.RequestScope, err error) {
	gv := appsv1alpha1.SchemeGroupVersion
	scope := c.base
	scope.Namer = handlers.ContextBasedNaming{Namer: meta.NewAccessor(), ClusterScoped: false}
	scope.Serializer = serializer
	scope.Creater, scope.Convertor, scope.Defaulter, scope.Typer = Scheme, Scheme, Scheme, Scheme
	scope.UnsafeConvertor = runtime.UnsafeObjectConvertor(Scheme)
	scope.TableConvertor = h.storage
	scope.Resource = gv.WithResource(kind.Resource)
	scope.Kind = kind.GroupVersionKind(gv)
	scope.HubGroupVersion = schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
	scope.MetaGroupVersion = metav1.SchemeGroupVersion
	// The main resource resets status, which its strategy says (registry.REST.GetResetFields).
	fm, err := managedfields.NewDefaultFieldManager(typeConverter, scope.UnsafeConvertor, scope.Defaulter, scope.Creater, scope.Kind, scope.HubGroupVersion, "", fieldpath.NewExcludeFilterSetMap(h.storage.GetResetFields()))
	if err != nil {
		return nil, nil, fmt.Errorf("field manager of %s: %w", kind, err)
	}
	// Status is read-only, as a defined kind's (requestScopes): it needs no field manager.
	statusScope := scope
	statusScope.Subresource = "status"
	scope.FieldManager = fm
	return &scope, &statusScope, nil
}
