package registry

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/util/dryrun"
	"k8s.io/klog/v2"

	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/releasecache"
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
	if err := r.gate.AllowWrite(ctx, r.resource, m.GetNamespace(), m.GetName()); err != nil {
		return nil, err
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

// Delete deletes the HelmRelease. While finalizers (the user's, or Flux's uninstalling the
// release) hold it, the object stays visible with a deletionTimestamp, as any Kubernetes object.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	namespace := genericapirequest.NamespaceValue(ctx)
	// The release's metadata is all a delete needs from kube-apiserver; the object it validates
	// and returns is the cached conversion of that revision, or of the whole release read when the
	// cache does not hold it.
	var hr releaseMeta
	hr, err := r.releaseMetadata(ctx, namespace, name)
	if err != nil {
		return nil, false, err
	}
	obj, cached := r.cachedAtLeast(namespace, name, hr.GetResourceVersion())
	if !cached {
		whole, err := r.releases.Namespace(namespace).Get(ctx, r.kind.ReleaseName(name), metav1.GetOptions{})
		if err == nil && !r.kind.Owns(whole) {
			err = apierrors.NewNotFound(r.resource, name)
		}
		if err != nil {
			return nil, false, r.translateError(err, name)
		}
		if obj, err = r.toObject(ctx, whole); err != nil {
			return nil, false, err
		}
		hr = whole
	}
	if err := checkPreconditions(r.resource, name, hr, options.Preconditions); err != nil {
		return nil, false, err
	}
	if deleteValidation != nil {
		if err := deleteValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, false, err
		}
	}
	if dryrun.IsDryRun(options.DryRun) {
		if len(hr.GetFinalizers()) == 0 {
			return r.deletedStatus(obj), true, nil
		}
		return obj, false, nil
	}
	uid, rv := hr.GetUID(), hr.GetResourceVersion()
	if len(hr.GetFinalizers()) > 0 {
		// The release outlives the request while finalizers (Flux uninstalling it) hold it:
		// record who deleted it first. With a resourceVersion precondition the record is written
		// only over the version the precondition was checked against.
		pinned := options.Preconditions != nil && options.Preconditions.ResourceVersion != nil
		record, err := release.DeletionRecord(hr, actor(ctx), pinned)
		if err != nil {
			return nil, false, apierrors.NewInternalError(err)
		}
		recorded, err := r.releases.Namespace(namespace).Patch(ctx, hr.GetName(), types.JSONPatchType, record, metav1.PatchOptions{FieldManager: FieldManager})
		if err != nil {
			if pinned && apierrors.IsInvalid(err) {
				return nil, false, apierrors.NewConflict(r.resource, name, errors.New(genericregistry.OptimisticLockErrorMsg))
			}
			return nil, false, r.translateError(err, name)
		}
		uid, rv = recorded.GetUID(), recorded.GetResourceVersion()
	}
	// Always the same release; the same version only when the client asked for one, so Flux
	// writing status meanwhile does not fail an unconditional delete.
	preconditions := &metav1.Preconditions{UID: &uid}
	if options.Preconditions != nil && options.Preconditions.ResourceVersion != nil {
		preconditions.ResourceVersion = &rv
	}
	err = r.releases.Namespace(namespace).Delete(ctx, hr.GetName(), metav1.DeleteOptions{
		Preconditions:      preconditions,
		PropagationPolicy:  options.PropagationPolicy,
		GracePeriodSeconds: options.GracePeriodSeconds,
	})
	if err != nil {
		return nil, false, r.translateError(err, name)
	}
	// Wait until the cache shows the deletion, either gone or marked for deletion.
	waitCtx, cancel := context.WithTimeout(ctx, visibilityTimeout)
	defer cancel()
	marked, waitErr := r.cache.AwaitDeletion(waitCtx, r.kind.Kind, namespace, name, uid)
	if waitErr != nil {
		klog.FromContext(ctx).Info("Deletion not yet visible in cache", "kind", r.kind.Kind, "namespace", namespace, "name", name, "err", waitErr)
		// Say what kube-apiserver says now rather than guess: finalizers may still hold it.
		current, err := r.releases.Namespace(namespace).Get(ctx, hr.GetName(), metav1.GetOptions{})
		if err == nil && current.GetUID() == uid {
			obj, err := r.toObject(ctx, current)
			return obj, false, err
		}
	}
	if marked != nil {
		return marked, false, nil
	}
	return r.deletedStatus(obj), true, nil
}

// deletedStatus is what kube-apiserver's generic storage answers for an object that is gone
// at once: a Success status naming it, not the object.
func (r *REST) deletedStatus(obj runtime.Object) *metav1.Status {
	m, _ := meta.Accessor(obj)
	return &metav1.Status{
		Status:  metav1.StatusSuccess,
		Details: &metav1.StatusDetails{Name: m.GetName(), Group: r.resource.Group, Kind: r.resource.Resource, UID: m.GetUID()},
	}
}

// DeleteCollection deletes every selected object, one HelmRelease at a time, as kube-apiserver's
// generic storage does.
func (r *REST) DeleteCollection(ctx context.Context, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions,
	listOptions *metainternalversion.ListOptions) (runtime.Object, error) {
	listObj, err := r.List(ctx, listOptions)
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(listObj)
	if err != nil {
		return nil, err
	}
	deleted := make([]runtime.Object, 0, len(items))
	for _, item := range items {
		m, _ := meta.Accessor(item)
		obj, gone, err := r.Delete(ctx, m.GetName(), deleteValidation, options.DeepCopy())
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if gone {
			// The list reports what was deleted, as kube-apiserver's does: the object as listed.
			obj = item
		}
		deleted = append(deleted, obj)
	}
	if err := meta.SetList(listObj, deleted); err != nil {
		return nil, err
	}
	return listObj, nil
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

// visible waits until the cache reflects a HelmRelease the server just wrote, so reads after a
// successful write see the write, and answers with the cache's conversion of it; the release is
// converted here only when the cache is not there yet or already holds a newer revision.
func (r *REST) visible(ctx context.Context, hr *unstructured.Unstructured) (runtime.Object, error) {
	if rv, err := releasecache.ParseResourceVersion(hr.GetResourceVersion()); err == nil {
		waitCtx, cancel := context.WithTimeout(ctx, visibilityTimeout)
		defer cancel()
		name, _ := r.kind.ObjectName(hr.GetName())
		written, err := r.cache.AwaitWrite(waitCtx, r.kind.Kind, hr.GetNamespace(), name, rv)
		if err != nil {
			klog.FromContext(ctx).Info("Write not yet visible in cache", "kind", r.kind.Kind, "namespace", hr.GetNamespace(), "name", hr.GetName(), "resourceVersion", rv, "err", err)
		}
		if written != nil {
			return written, nil
		}
	}
	return r.toObject(ctx, hr)
}
