package registry

import (
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
)

// translateError turns an error from reading or writing the HelmRelease into the error a client of
// this kind should see: it names the object, not the HelmRelease, and keeps the status code and
// reason.
func (r *REST) translateError(err error, name string) error {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return apierrors.NewInternalError(fmt.Errorf("HelmRelease of %s %q: %w", r.kind.Kind, name, err))
	}
	switch {
	case apierrors.IsNotFound(err):
		return apierrors.NewNotFound(r.resource, name)
	case apierrors.IsAlreadyExists(err):
		return apierrors.NewAlreadyExists(r.resource, name)
	case apierrors.IsConflict(err):
		return apierrors.NewConflict(r.resource, name, errors.New(genericregistry.OptimisticLockErrorMsg))
	}
	s := status.Status()
	if s.Code == http.StatusForbidden || s.Code == http.StatusUnauthorized {
		// The server's own identity was refused: an operator problem, not the client's.
		return apierrors.NewInternalError(fmt.Errorf("the API server may not read or write HelmReleases: %s", s.Message))
	}
	s.Message = fmt.Sprintf("storing %s %q as a HelmRelease: %s", r.kind.Kind, name, s.Message)
	if s.Details != nil {
		s.Details.Group, s.Details.Kind, s.Details.Name = r.resource.Group, r.kind.Kind, name
	}
	return &apierrors.StatusError{ErrStatus: s}
}

// releaseMeta is a release read whole or as metadata only.
type releaseMeta interface {
	runtime.Object
	metav1.Object
}

// checkPreconditions applies a delete's uid and resourceVersion preconditions to the release with
// k8s.io/apiserver's own check, answering 409 as kube-apiserver's storage does.
func checkPreconditions(resource schema.GroupResource, name string, hr releaseMeta, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	pre := storage.Preconditions{UID: p.UID, ResourceVersion: p.ResourceVersion}
	if err := pre.Check(hr.GetNamespace()+"/"+name, hr); err != nil {
		return storeerr.InterpretDeleteError(err, resource, name)
	}
	return nil
}
