package releasecache

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

func definedObject() *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"replicas": int64(3), "ratio": 0.25, "enabled": true, "nothing": nil, "size": "10Gi",
			"users":     map[string]any{"app": map[string]any{"password": "<s3cret&>", "roles": []any{"a", "b"}}},
			"empty":     map[string]any{},
			"emptyList": []any{},
			"unicode":   "жёлтый ✓",
		},
		"status": map[string]any{
			"observedGeneration": int64(2), "version": "1.2.3", "namespace": "tenant-a-b",
			"conditions": []any{map[string]any{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}},
		},
	}}
	u.SetAPIVersion("apps.cozy.io/v1alpha1")
	u.SetKind("Postgres")
	u.SetName("db")
	u.SetNamespace("tenant-a")
	u.SetUID("uid-1")
	u.SetResourceVersion("42")
	u.SetGeneration(2)
	u.SetCreationTimestamp(metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	deleted := metav1.NewTime(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	u.SetDeletionTimestamp(&deleted)
	grace := int64(0)
	u.SetDeletionGracePeriodSeconds(&grace)
	u.SetLabels(map[string]string{"team": "a"})
	u.SetAnnotations(map[string]string{"note": "x"})
	u.SetFinalizers([]string{"example.com/keep"})
	controller := true
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "uid-0", Controller: &controller}})
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "apps.cozy.io/v1alpha1",
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:replicas":{}}}`)}}})
	return u
}

// A defined kind's object decodes from its compact form exactly as it was given, metadata and
// all, and meta.Accessor reads its metadata without decoding it.
func TestCompactObjectsDecodeAsGiven(t *testing.T) {
	for name, in := range map[string]*unstructured.Unstructured{
		"full":          definedObject(),
		"bare":          {Object: map[string]any{"apiVersion": "apps.cozy.io/v1alpha1", "kind": "Redis", "metadata": map[string]any{"name": "r"}}},
		"empty content": {Object: map[string]any{"apiVersion": "apps.cozy.io/v1alpha1", "kind": "Redis", "metadata": map[string]any{"name": "r", "labels": map[string]any{}}, "spec": map[string]any{}}},
	} {
		t.Run(name, func(t *testing.T) {
			kept := compact(in.DeepCopy())
			if _, ok := kept.(*compactObject); !ok {
				t.Fatalf("kept as %T", kept)
			}
			out := kept.DeepCopyObject()
			if !equality.Semantic.DeepEqual(out, in) {
				t.Errorf("decoded differently:\n got %v\nwant %v", out, in)
			}
			// Each copy is the caller's own.
			out.(*unstructured.Unstructured).Object["spec"] = "changed"
			if again := kept.DeepCopyObject(); !equality.Semantic.DeepEqual(again, in) {
				t.Errorf("a change to a copy reached the cache: %v", again)
			}
			m, err := meta.Accessor(kept)
			if err != nil || m.GetName() != in.GetName() || m.GetResourceVersion() != in.GetResourceVersion() ||
				!equality.Semantic.DeepEqual(m.GetLabels(), in.GetLabels()) {
				t.Errorf("metadata through meta.Accessor: %v %+v", err, m)
			}
			if kept.GetObjectKind().GroupVersionKind() != in.GroupVersionKind() {
				t.Errorf("kind %v", kept.GetObjectKind().GroupVersionKind())
			}
		})
	}
}

// A typed object is kept as it is: a Go struct is about as small as its JSON already.
func TestTypedObjectsAreKeptAsTheyAre(t *testing.T) {
	typed := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
	if kept := compact(typed); kept != runtime.Object(typed) {
		t.Errorf("typed object kept as %T", kept)
	}
}

// Two compact versions of an object are the same but for the version exactly when their decoded
// forms are.
func TestCompactObjectsCompareWithoutDecoding(t *testing.T) {
	base := definedObject()
	newer := base.DeepCopy()
	newer.SetResourceVersion("43")
	changedSpec := newer.DeepCopy()
	changedSpec.Object["spec"].(map[string]any)["replicas"] = int64(4)
	changedLabels := newer.DeepCopy()
	changedLabels.SetLabels(map[string]string{"team": "b"})
	for name, tc := range map[string]struct {
		obj  *unstructured.Unstructured
		same bool
	}{
		"only the version": {newer, true},
		"the spec":         {changedSpec, false},
		"a label":          {changedLabels, false},
	} {
		a, b := compact(base.DeepCopy()).(*compactObject), compact(tc.obj.DeepCopy()).(*compactObject)
		if got := sameButVersion(a, b); got != tc.same {
			t.Errorf("%s: sameButVersion = %v, want %v", name, got, tc.same)
		}
		if decoded := sameButVersion(a.DeepCopyObject(), b.DeepCopyObject()); decoded != tc.same {
			t.Errorf("%s: decoded, sameButVersion = %v, want %v", name, decoded, tc.same)
		}
	}
}
