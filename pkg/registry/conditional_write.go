package registry

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// writeRelease applies desired over original. raced reports that the release changed in a way
// the write may not ignore, so the caller should re-read it and apply the client's change again.
func (r *REST) writeRelease(ctx context.Context, original, desired *unstructured.Unstructured) (result *unstructured.Unstructured, raced bool, err error) {
	patch, err := release.ConditionalPatch(original, desired)
	if err != nil {
		return nil, false, apierrors.NewInternalError(fmt.Errorf("building HelmRelease patch: %w", err))
	}
	client := r.releases.Namespace(original.GetNamespace())
	written, err := client.Patch(ctx, original.GetName(), types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	if err == nil {
		return written, false, nil
	}
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil, true, err
	}
	// A failed test operation comes back as a client error: tell it from a real refusal by
	// checking whether the release moved on.
	current, getErr := client.Get(ctx, original.GetName(), metav1.GetOptions{})
	if getErr == nil && (current.GetUID() != original.GetUID() || current.GetGeneration() != original.GetGeneration() ||
		!release.SameOwnedMetadata(current, original)) {
		return nil, true, err
	}
	return nil, false, err
}
