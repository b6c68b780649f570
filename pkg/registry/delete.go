package registry

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/util/dryrun"
	"k8s.io/klog/v2"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// Delete deletes the HelmRelease. While finalizers (the user's, or Flux's uninstalling the
// release) hold it, the object stays visible with a deletionTimestamp, as any Kubernetes object.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	for attempt := 1; ; attempt++ {
		// The last attempt does not pin the version it read: a delete without preconditions
		// never conflicts in kube-apiserver, however often the release is written meanwhile
		// (Flux's status writes); it then waits for the cache to show the object gone or held.
		obj, gone, raced, err := r.deleteOnce(ctx, name, deleteValidation, options, attempt < maxUpdateAttempts)
		if raced {
			if attempt < maxUpdateAttempts {
				continue
			}
			return nil, false, apierrors.NewConflict(r.resource, name, errors.New(genericregistry.OptimisticLockErrorMsg))
		}
		return obj, gone, err
	}
}

// deleteOnce deletes the release as read once. raced reports that it changed between the read and
// the delete in a way that matters (a release without finalizers got one, or was written) while
// the client did not pin a resourceVersion: the caller reads it again. answerAtOnce lets a delete
// that nothing holds be pinned to the version it read and answered without waiting for the cache.
func (r *REST) deleteOnce(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions, answerAtOnce bool) (result runtime.Object, gone, raced bool, err error) {
	namespace := genericapirequest.NamespaceValue(ctx)
	// The release's metadata is all a delete needs from kube-apiserver; the object it validates
	// and returns is the cached conversion of that revision (see readCurrent).
	obj, hr, err := r.readCurrent(ctx, namespace, name)
	if err != nil {
		return nil, false, false, err
	}
	if err := checkPreconditions(r.resource, name, hr, options.Preconditions); err != nil {
		return nil, false, false, err
	}
	if deleteValidation != nil {
		if err := deleteValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, false, false, err
		}
	}
	if dryrun.IsDryRun(options.DryRun) {
		if len(hr.GetFinalizers()) == 0 {
			return r.deletedStatus(obj), true, false, nil
		}
		return markedForDeletion(obj), false, false, nil
	}
	uid, rv := hr.GetUID(), hr.GetResourceVersion()
	pinned := options.Preconditions != nil && options.Preconditions.ResourceVersion != nil
	// Without finalizers, and with a policy that adds none (foreground and orphan deletion do),
	// kube-apiserver removes the release at once.
	immediate := answerAtOnce && len(hr.GetFinalizers()) == 0 &&
		(options.PropagationPolicy == nil || *options.PropagationPolicy == metav1.DeletePropagationBackground)
	if len(hr.GetFinalizers()) > 0 {
		// The release outlives the request while finalizers (Flux uninstalling it) hold it:
		// record who deleted it first. With a resourceVersion precondition the record is written
		// only over the version the precondition was checked against.
		record, err := release.DeletionRecord(hr, actor(ctx), pinned)
		if err != nil {
			return nil, false, false, apierrors.NewInternalError(err)
		}
		recorded, err := r.releases.Namespace(namespace).Patch(ctx, hr.GetName(), types.JSONPatchType, record, metav1.PatchOptions{FieldManager: FieldManager})
		if err != nil {
			if pinned && apierrors.IsInvalid(err) {
				return nil, false, false, apierrors.NewConflict(r.resource, name, errors.New(genericregistry.OptimisticLockErrorMsg))
			}
			return nil, false, false, r.translateError(err, name)
		}
		uid, rv = recorded.GetUID(), recorded.GetResourceVersion()
	}
	// Always the same release; the same version when the client asked for one, or when the
	// deletion is to be immediate: then nothing added meanwhile (a finalizer) can hold it, and it is
	// gone once kube-apiserver says so. Otherwise Flux writing status meanwhile must not fail an
	// unconditional delete.
	preconditions := &metav1.Preconditions{UID: &uid}
	if pinned || immediate {
		preconditions.ResourceVersion = &rv
	}
	err = r.releases.Namespace(namespace).Delete(ctx, hr.GetName(), metav1.DeleteOptions{
		Preconditions:      preconditions,
		PropagationPolicy:  options.PropagationPolicy,
		GracePeriodSeconds: options.GracePeriodSeconds,
	})
	if err != nil {
		if immediate && !pinned && apierrors.IsConflict(err) {
			return nil, false, true, err
		}
		return nil, false, false, r.translateError(err, name)
	}
	if immediate {
		// Gone: a consistent read asks kube-apiserver first and finds nothing; lists wait for
		// the cache to catch up with kube-apiserver. Nothing to wait for here.
		return r.deletedStatus(obj), true, false, nil
	}
	// Held by finalizers: answer with the object marked for deletion, as the cache shows it.
	waitCtx, cancel := context.WithTimeout(ctx, visibilityTimeout)
	defer cancel()
	marked, waitErr := r.cache.AwaitDeletion(waitCtx, r.kind.Kind, namespace, name, uid)
	if waitErr != nil {
		klog.FromContext(ctx).Info("Deletion not yet visible in cache", "kind", r.kind.Kind, "namespace", namespace, "name", name, "err", waitErr)
		// Say what kube-apiserver says now rather than guess: finalizers may still hold it.
		current, err := r.releases.Namespace(namespace).Get(ctx, hr.GetName(), metav1.GetOptions{})
		if err == nil && current.GetUID() == uid {
			obj, err := r.toObject(ctx, current)
			return obj, false, false, err
		}
	}
	if marked != nil {
		return marked, false, false, nil
	}
	return r.deletedStatus(obj), true, false, nil
}

// markedForDeletion is a copy of an object that finalizers hold as a delete would leave it, for a
// dry run to answer (kube-apiserver's generic storage marks its copy the same way and stores
// nothing): deletionTimestamp now, no grace period, generation advanced. An object already being
// deleted is returned as it is.
func markedForDeletion(obj runtime.Object) runtime.Object {
	marked := obj.DeepCopyObject()
	m, err := meta.Accessor(marked)
	if err != nil || m.GetDeletionTimestamp() != nil {
		return marked
	}
	if m.GetGeneration() > 0 {
		m.SetGeneration(m.GetGeneration() + 1)
	}
	now := metav1.Now()
	var zero int64
	m.SetDeletionTimestamp(&now)
	m.SetDeletionGracePeriodSeconds(&zero)
	return marked
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
