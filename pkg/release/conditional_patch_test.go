package release

import (
	"encoding/json"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func releaseObject(generation int64, labels map[string]string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec, "status": map[string]any{"phase": "x"}}}
	u.SetUID("uid-1")
	u.SetGeneration(generation)
	u.SetLabels(labels)
	return u
}

func apply(t *testing.T, patch []byte, doc *unstructured.Unstructured) (map[string]any, error) {
	t.Helper()
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(doc.Object)
	out, err := p.Apply(raw)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(out, &m)
}

func TestReleasePatchIgnoresStatusButNotSpecChanges(t *testing.T) {
	original := releaseObject(3, map[string]string{"a": "1"}, map[string]any{"values": map[string]any{"x": 1.0}, "suspend": true})
	desired := original.DeepCopy()
	desired.SetLabels(nil)
	_ = unstructured.SetNestedField(desired.Object, map[string]any{"x": 2.0}, "spec", "values")
	patch, err := ConditionalPatch(original, desired)
	if err != nil {
		t.Fatal(err)
	}

	// Flux wrote status meanwhile: the patch still applies and keeps the new status.
	statusMoved := original.DeepCopy()
	_ = unstructured.SetNestedField(statusMoved.Object, "y", "status", "phase")
	out, err := apply(t, patch, statusMoved)
	if err != nil {
		t.Fatalf("patch refused after a status-only change: %v", err)
	}
	if out["status"].(map[string]any)["phase"] != "y" || out["spec"].(map[string]any)["suspend"] != true {
		t.Errorf("patched release lost status or foreign spec: %v", out)
	}
	if _, ok := out["metadata"].(map[string]any)["labels"]; ok {
		t.Errorf("removed labels are still there: %v", out["metadata"])
	}

	// Someone changed the spec (generation moved) or the labels: the patch must not apply.
	specMoved := original.DeepCopy()
	specMoved.SetGeneration(4)
	if _, err := apply(t, patch, specMoved); err == nil {
		t.Error("patch applied over a newer generation")
	}
	labelsMoved := original.DeepCopy()
	labelsMoved.SetLabels(map[string]string{"a": "2"})
	if _, err := apply(t, patch, labelsMoved); err == nil {
		t.Error("patch applied over changed labels")
	}
}

func TestDeletionRecordKeepsAnnotationsWrittenMeanwhile(t *testing.T) {
	read := releaseObject(1, nil, map[string]any{})
	read.SetAnnotations(map[string]string{"note": "x"})
	patch, err := DeletionRecord(read, "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	current := read.DeepCopy()
	current.SetAnnotations(map[string]string{"note": "x", "reconcile.fluxcd.io/requestedAt": "now"})
	out, err := apply(t, patch, current)
	if err != nil {
		t.Fatal(err)
	}
	annotations := out["metadata"].(map[string]any)["annotations"].(map[string]any)
	if annotations["reconcile.fluxcd.io/requestedAt"] != "now" || annotations[AnnotationLastModifiedBy] != "alice" || annotations[AnnotationLastOperation] != OperationDelete {
		t.Errorf("annotations after the deletion record: %v", annotations)
	}

	bare := releaseObject(1, nil, map[string]any{})
	bare.SetResourceVersion("8")
	patch, err = DeletionRecord(bare, "bob", true)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := apply(t, patch, bare); err != nil || out["metadata"].(map[string]any)["annotations"].(map[string]any)[AnnotationLastModifiedBy] != "bob" {
		t.Errorf("a release without annotations: %v %v", out, err)
	}
	moved := bare.DeepCopy()
	moved.SetResourceVersion("9")
	if _, err := apply(t, patch, moved); err == nil {
		t.Error("a pinned record applied over another resourceVersion")
	}
}
