package registry

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// patchOp is one RFC 6902 operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// releasePatch turns the change from original to desired into a JSON patch that kube-apiserver
// applies only if the release is still the one that was read where it matters: same uid, same
// generation (nobody changed its spec) and the same metadata the server rewrites. It does not
// depend on the resourceVersion, so Flux writing status meanwhile (which it does often while
// reconciling) does not make the write fail, while a concurrent change of the spec or metadata
// still does.
func releasePatch(original, desired *unstructured.Unstructured) ([]byte, error) {
	ops := []patchOp{
		{Op: "test", Path: "/metadata/uid", Value: original.GetUID()},
		{Op: "test", Path: "/metadata/generation", Value: original.GetGeneration()},
	}
	for _, field := range ownedMetadataFields {
		before, hadBefore, _ := unstructured.NestedFieldNoCopy(original.Object, "metadata", field)
		after, hasAfter, _ := unstructured.NestedFieldNoCopy(desired.Object, "metadata", field)
		path := "/metadata/" + field
		if hadBefore {
			ops = append(ops, patchOp{Op: "test", Path: path, Value: before})
		}
		switch {
		case hasAfter && !isEmpty(after):
			ops = append(ops, patchOp{Op: "add", Path: path, Value: after})
		case hadBefore:
			ops = append(ops, patchOp{Op: "remove", Path: path})
		}
	}
	spec, _, _ := unstructured.NestedFieldNoCopy(desired.Object, "spec")
	ops = append(ops, patchOp{Op: "add", Path: "/spec", Value: spec})
	return json.Marshal(ops)
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return v == nil
}

// writeRelease applies desired over original. raced reports that the release changed in a way
// the write may not ignore, so the caller should re-read it and apply the client's change again.
func (r *REST) writeRelease(ctx context.Context, original, desired *unstructured.Unstructured) (result *unstructured.Unstructured, raced bool, err error) {
	patch, err := releasePatch(original, desired)
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
		!sameOwnedMetadata(current, original)) {
		return nil, true, err
	}
	return nil, false, err
}

// ownedMetadataFields are the metadata fields of a HelmRelease the server rewrites from the object.
var ownedMetadataFields = []string{"labels", "annotations", "finalizers", "ownerReferences"}

// ownedContent is what the server writes on a release: its owned metadata and spec, as JSON.
// withSpec leaves the spec out; dropKeys are annotations left out of the comparison.
func ownedContent(u *unstructured.Unstructured, withSpec bool, dropKeys ...string) string {
	content := map[string]any{}
	for _, field := range ownedMetadataFields {
		v, _, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", field)
		content[field] = v
	}
	if len(dropKeys) > 0 {
		annotations := u.GetAnnotations()
		for _, k := range dropKeys {
			delete(annotations, k)
		}
		if len(annotations) == 0 {
			annotations = nil
		}
		content["annotations"] = annotations
	}
	if withSpec {
		content["spec"], _, _ = unstructured.NestedFieldNoCopy(u.Object, "spec")
	}
	raw, _ := json.Marshal(content)
	return string(raw)
}

func sameOwnedMetadata(a, b *unstructured.Unstructured) bool {
	return ownedContent(a, false) == ownedContent(b, false)
}
