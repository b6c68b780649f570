package release

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Operations recorded on a release, so operators can tell who last changed an application even
// though every release is written with the server's identity.
const (
	OperationCreate = "Create"
	OperationUpdate = "Update"
	OperationDelete = "Delete"
)

// RecordActor writes who asked for an operation into the release's reserved annotations.
func RecordActor(hr *unstructured.Unstructured, user, operation string) {
	annotations := hr.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationLastModifiedBy] = user
	annotations[AnnotationLastOperation] = operation
	hr.SetAnnotations(annotations)
}

// DeletionRecord is a JSON patch that records who deletes the release it is about to delete,
// conditional on it still being the same release and, when pinned, still at the same
// resourceVersion. It adds the two annotations one by one, so annotations written since hr was
// read (Flux's reconcile request, a user's) are kept.
func DeletionRecord(hr metav1.Object, user string, pinned bool) ([]byte, error) {
	ops := []patchOp{{Op: "test", Path: "/metadata/uid", Value: hr.GetUID()}}
	if pinned {
		ops = append(ops, patchOp{Op: "test", Path: "/metadata/resourceVersion", Value: hr.GetResourceVersion()})
	}
	record := map[string]string{AnnotationLastModifiedBy: user, AnnotationLastOperation: OperationDelete}
	if len(hr.GetAnnotations()) == 0 {
		// "add" on a missing map creates it; on an existing one it would replace it.
		ops = append(ops, patchOp{Op: "add", Path: "/metadata/annotations", Value: record})
	} else {
		for _, key := range []string{AnnotationLastModifiedBy, AnnotationLastOperation} {
			ops = append(ops, patchOp{Op: "add", Path: "/metadata/annotations/" + jsonPointerEscape(key), Value: record[key]})
		}
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("building the deletion record: %w", err)
	}
	return raw, nil
}
