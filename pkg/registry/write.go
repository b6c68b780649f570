package registry

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/util/dryrun"
	"k8s.io/klog/v2"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// FieldManager is the name under which the server writes HelmReleases.
const FieldManager = "cozy-apiserver"

// maxUpdateAttempts bounds how often an update is re-applied when the HelmRelease's spec or
// metadata changed between reading and writing it. Each attempt re-reads the release and
// re-applies the client's change, so a client that sent a stale resourceVersion still gets a 409.
// Status writes (Flux) do not cause attempts: the write is conditional on spec and metadata only.
const maxUpdateAttempts = 5

// Create stores a new object as a new HelmRelease.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if m.GetGenerateName() != "" && m.GetName() == "" {
		m.SetName(r.strategy.GenerateName(m.GetGenerateName()))
	}
	rest.FillObjectMetaSystemFields(m)
	if err := rest.BeforeCreate(r.strategy, ctx, obj); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if m.GetResourceVersion() != "" {
		// Where kube-apiserver's storage refuses it too, after validation and admission; there
		// the refusal is a 500 (README: deliberate differences), here the client's mistake is a 400.
		return nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	if err := r.gate.AllowWrite(ctx, r.resource, m.GetNamespace(), m.GetName()); err != nil {
		return nil, err
	}
	if r.kind.NestsTenants {
		if err := r.gate.AllowChildTenant(ctx, r.resource, m.GetNamespace(), m.GetName(), r.kind.ReleaseName(m.GetName())); err != nil {
			return nil, err
		}
	}
	hr := r.kind.NewRelease(m.GetNamespace(), m.GetName())
	if err := r.kind.ApplyTo(obj, hr); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	release.RecordActor(hr, actor(ctx), release.OperationCreate)
	if dryrun.IsDryRun(options.DryRun) {
		// kube-apiserver dry-runs the release too, so a dry run fails exactly where the real
		// create would: a release of that name (whoever wrote it), or one it would refuse.
		if _, err := r.releases.Namespace(m.GetNamespace()).Create(ctx, hr, metav1.CreateOptions{FieldManager: FieldManager, DryRun: options.DryRun}); err != nil {
			return nil, r.translateError(err, m.GetName())
		}
		return obj, nil
	}
	created, err := r.releases.Namespace(m.GetNamespace()).Create(ctx, hr, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil {
		return nil, r.translateError(err, m.GetName())
	}
	klog.FromContext(ctx).V(2).Info("Created HelmRelease", "kind", r.kind.Kind, "namespace", m.GetNamespace(), "name", m.GetName(), "resourceVersion", created.GetResourceVersion())
	return r.visible(ctx, created)
}

// Update applies the client's change to the fields of the HelmRelease the server owns, with the
// same optimistic concurrency as kube-apiserver's storage: the change is applied to a fresh read
// (a client's resourceVersion must match it) and written only if the release's spec and metadata
// are still those of that read.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	namespace := genericapirequest.NamespaceValue(ctx)
	for attempt := 1; ; attempt++ {
		hr, err := r.releases.Namespace(namespace).Get(ctx, r.kind.ReleaseName(name), metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && !r.kind.Owns(hr)) {
			if !forceAllowCreate {
				return nil, false, apierrors.NewNotFound(r.resource, name)
			}
			obj, err := objInfo.UpdatedObject(ctx, nil)
			if err != nil {
				return nil, false, clientError(err)
			}
			if m, err := meta.Accessor(obj); err == nil {
				// As kube-apiserver: a server-side apply that creates ignores the resourceVersion
				// its configuration carries.
				m.SetResourceVersion("")
			}
			created, err := r.Create(ctx, obj, createValidation, &metav1.CreateOptions{DryRun: options.DryRun, FieldManager: options.FieldManager})
			return created, err == nil, err
		}
		if err != nil {
			return nil, false, r.translateError(err, name)
		}
		result, raced, err := r.updateOnce(ctx, hr, objInfo, updateValidation, options)
		if raced {
			if attempt < maxUpdateAttempts {
				continue
			}
			return nil, false, apierrors.NewConflict(r.resource, name, errors.New(genericregistry.OptimisticLockErrorMsg))
		}
		return result, false, err
	}
}

func (r *REST) updateOnce(ctx context.Context, hr *unstructured.Unstructured, objInfo rest.UpdatedObjectInfo,
	updateValidation rest.ValidateObjectUpdateFunc, options *metav1.UpdateOptions) (result runtime.Object, raced bool, err error) {
	old, err := r.kind.ToObject(r.gv, hr)
	var unreadable *release.UnreadableError
	if errors.As(err, &unreadable) {
		// Applying the change to an empty spec would replace values nobody can see.
		return nil, false, apierrors.NewConflict(r.resource, old.(metav1.Object).GetName(),
			fmt.Errorf("%w; it can only be deleted until its HelmRelease's values are fixed", err))
	}
	if err != nil {
		return nil, false, apierrors.NewInternalError(err)
	}
	oldMeta, _ := meta.Accessor(old)
	obj, err := objInfo.UpdatedObject(ctx, old)
	if err != nil {
		return nil, false, clientError(err)
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, false, apierrors.NewBadRequest(err.Error())
	}
	switch m.GetResourceVersion() {
	case "":
		return nil, false, apierrors.NewInvalid(r.kind.GroupVersionKind(r.gv).GroupKind(), m.GetName(), field.ErrorList{
			field.Invalid(field.NewPath("metadata", "resourceVersion"), m.GetResourceVersion(), "must be specified for an update")})
	case oldMeta.GetResourceVersion():
	default:
		return nil, false, apierrors.NewConflict(r.resource, m.GetName(), errors.New(genericregistry.OptimisticLockErrorMsg))
	}
	if err := rest.BeforeUpdate(r.strategy, ctx, obj, old); err != nil {
		return nil, false, err
	}
	if updateValidation != nil {
		if err := updateValidation(ctx, obj.DeepCopyObject(), old.DeepCopyObject()); err != nil {
			return nil, false, err
		}
	}
	if err := r.gate.AllowWrite(ctx, r.resource, m.GetNamespace(), m.GetName()); err != nil {
		return nil, false, err
	}
	desired := hr.DeepCopy()
	if err := r.kind.ApplyTo(obj, desired); err != nil {
		return nil, false, apierrors.NewInternalError(err)
	}
	if m.GetGeneration() == oldMeta.GetGeneration() {
		// The strategy moved generation only if the spec changed: the client left it alone. Keep
		// the release's spec exactly as stored, values and chart settings alike (a release
		// written without defaults, or by another server with another chart reference, stays as
		// it was), so only metadata changes and the generation does not move, as for a custom
		// resource.
		if spec, found, _ := unstructured.NestedFieldCopy(hr.Object, "spec"); found {
			_ = unstructured.SetNestedField(desired.Object, spec, "spec")
		}
	}
	if dryrun.IsDryRun(options.DryRun) {
		return obj, false, nil
	}
	if release.OwnedContentEqual(hr, desired) {
		// Nothing changes: like kube-apiserver, do not write, keep the resourceVersion.
		return old, false, nil
	}
	release.RecordActor(desired, actor(ctx), release.OperationUpdate)
	updated, raced, err := r.writeRelease(ctx, hr, desired)
	if err != nil {
		// When the release changed after it was read, the caller re-reads and re-applies the
		// client's change, which fails with 409 if the client's resourceVersion is now stale.
		return nil, raced, r.translateError(err, m.GetName())
	}
	result, err = r.visible(ctx, updated)
	return result, false, err
}

// clientError keeps status errors as they are and turns others from applying the client's patch
// into a 400. Server-side apply reports fields the schema does not declare as plain errors, which
// the handlers would answer with a 500 (as kube-apiserver does for CRDs); they are the client's.
func clientError(err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return err
	}
	return apierrors.NewBadRequest(err.Error())
}

// visible answers a write with the object the server just wrote, and records it in the cache so
// that consistent reads after the write see it without waiting for the upstream watch
// (read-your-writes: a consistent read asks kube-apiserver for the release's revision first, and
// the cache serves this conversion only for exactly that revision).
func (r *REST) visible(ctx context.Context, hr *unstructured.Unstructured) (runtime.Object, error) {
	if obj, ok := r.cache.RecordWrite(hr); ok {
		return obj, nil
	}
	return r.toObject(ctx, hr)
}
