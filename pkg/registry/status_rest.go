package registry

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
)

// StatusREST serves a kind's /status subresource, as kube-apiserver does for a CRD with the status
// subresource enabled: status sent through the main resource is ignored, and status has its own
// RBAC noun. It is read-only: status is what the platform observed (Flux and, later, the workload
// objects), so no client may write it; PUT and PATCH answer 405 Method Not Allowed.
type StatusREST struct {
	store *REST
}

var (
	_ rest.Getter                   = &StatusREST{}
	_ rest.GroupVersionKindProvider = &StatusREST{}
)

// NewStatusREST returns the /status storage of the kind store serves.
func NewStatusREST(store *REST) *StatusREST { return &StatusREST{store: store} }

// New returns an empty object of the kind.
func (s *StatusREST) New() runtime.Object { return s.store.New() }

// Destroy has nothing to release.
func (s *StatusREST) Destroy() {}

// Get returns the whole object, as a CRD's status subresource does.
func (s *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return s.store.Get(ctx, name, options)
}

// GroupVersionKind is the kind of the object the subresource returns.
func (s *StatusREST) GroupVersionKind(gv schema.GroupVersion) schema.GroupVersionKind {
	return s.store.GroupVersionKind(gv)
}
