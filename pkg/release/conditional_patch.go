package release

import (
	"encoding/json"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// patchOp is one RFC 6902 operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// ownedMetadataFields are the metadata fields of a release the server rewrites from the object.
var ownedMetadataFields = []string{"labels", "annotations", "finalizers", "ownerReferences"}

// ConditionalPatch turns the change from original to desired into a JSON patch that
// kube-apiserver applies only if the release is still the one that was read where it matters:
// same uid, same generation (nobody changed its spec) and the same metadata the server rewrites.
// It does not depend on the resourceVersion, so Flux writing status meanwhile (which it does often
// while reconciling) does not make the write fail, while a concurrent change of the spec or
// metadata still does.
func ConditionalPatch(original, desired *unstructured.Unstructured) ([]byte, error) {
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

// OwnedContentEqual reports whether two versions of a release agree on everything the server
// writes except the actor record, i.e. whether writing desired over current would be a no-op.
func OwnedContentEqual(current, desired *unstructured.Unstructured) bool {
	return ownedContent(current, true, AnnotationLastModifiedBy, AnnotationLastOperation) ==
		ownedContent(desired, true, AnnotationLastModifiedBy, AnnotationLastOperation)
}

// SameOwnedMetadata reports whether two versions of a release agree on the metadata the server
// rewrites, i.e. whether a failed conditional patch lost to a concurrent change of it.
func SameOwnedMetadata(a, b *unstructured.Unstructured) bool {
	return ownedContent(a, false) == ownedContent(b, false)
}

// jsonPointerEscape escapes a map key for use in a JSON pointer (RFC 6901).
func jsonPointerEscape(key string) string {
	return strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}
