package apiserver

import (
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/appobjects"
	"github.com/cozystack/apps-apiserver/pkg/registry"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/subresources"
)

// selectsNothing is the selection of a kind whose definition selects no objects of a type.
var selectsNothing, _ = appobjects.Compile(nil)

// ownObjectsReader reads the objects that belong to an application with the server's identity:
// Services and Ingresses always, Secrets only when the operator granted it (the optional
// credentials manifest and --credentials-subresources).
type ownObjectsReader struct {
	client  dynamic.Interface
	secrets bool
}

// serveOwnObjects answers <resource>/<name>/secrets, /services and /ingresses of every kind: a
// list (v1 SecretList, ServiceList, networking.k8s.io/v1 IngressList) of the objects the kind's
// definition selects for that object (appobjects), in its namespace. Read only; the object must
// exist. The request was authorized for the subresource: the view role names services and
// ingresses but not secrets, which edit and admin read, never cached (withNoStore). It reports
// whether it answered.
func (r *kindRouter) serveOwnObjects(w http.ResponseWriter, req *http.Request, info *request.RequestInfo, kind *release.Kind, selections appobjects.Selections, storage *registry.REST) bool {
	t, ok := appobjects.TypeOf(info.Subresource)
	if !ok || info.Name == "" || info.Namespace == "" {
		return false
	}
	gv := appsv1alpha1.SchemeGroupVersion
	resource := schema.GroupResource{Group: gv.Group, Resource: info.Resource + "/" + info.Subresource}
	fail := func(err error) bool {
		responsewriters.ErrorNegotiated(err, Codecs, gv, w, req)
		return true
	}
	if info.Verb != "get" {
		return fail(apierrors.NewMethodNotSupported(resource, info.Verb))
	}
	if t.Credentials && !r.ownObjects.secrets {
		return fail(subresources.ErrDisabled(resource, info.Name))
	}
	ctx := request.WithNamespace(req.Context(), info.Namespace)
	obj, err := storage.Get(ctx, info.Name, &metav1.GetOptions{})
	if err != nil {
		return fail(err)
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return fail(apierrors.NewInternalError(err))
	}
	app := appobjects.Application{Name: m.GetName(), Kind: kind.ApplicationKind, Namespace: m.GetNamespace(), Release: kind.ReleaseName(m.GetName())}
	selection := selections[t.Subresource]
	if selection == nil {
		selection = selectsNothing
	}
	list, err := selection.Read(ctx, r.ownObjects.client, t, app)
	switch {
	case apierrors.IsForbidden(err):
		return fail(apierrors.NewForbidden(resource, info.Name, fmt.Errorf("the server may not read %s: see artifacts/deploy/10-rbac.yaml and optional/credentials-rbac.yaml", t.Resource.Resource)))
	case err != nil:
		klog.FromContext(ctx).Info("Reading an application's own objects failed", "resource", resource, "namespace", info.Namespace, "name", info.Name, "err", err)
		return fail(apierrors.NewServiceUnavailable(err.Error()))
	}
	body, err := list.MarshalJSON()
	if err != nil {
		return fail(apierrors.NewInternalError(err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return true
}
