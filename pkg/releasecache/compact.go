package releasecache

import (
	"bytes"
	"encoding/json"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/klog/v2"
)

// compactObject is how the cache keeps an unstructured object (a defined kind's): its metadata
// typed, everything else as the JSON it came from. A decoded map tree costs Go's heap about six
// times its JSON; this costs little more than the JSON. meta.Accessor reads the typed metadata
// (names, labels, resourceVersion: all the cache and selectors look at) without decoding; readers
// get the object itself, decoded afresh, from DeepCopyObject, as they got a deep copy before.
type compactObject struct {
	typeMeta   metav1.TypeMeta
	objectMeta metav1.ObjectMeta
	// content is a JSON object of every top-level field but apiVersion, kind and metadata.
	content []byte
}

var (
	_ runtime.Object            = (*compactObject)(nil)
	_ metav1.ObjectMetaAccessor = (*compactObject)(nil)
)

// compact returns the form the cache keeps obj in: compact for an unstructured object, obj itself
// for a typed one (a Go struct is about as small as its JSON already).
func compact(obj runtime.Object) runtime.Object {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj
	}
	rest := make(map[string]any, len(u.Object))
	for key, value := range u.Object {
		if key != "apiVersion" && key != "kind" && key != "metadata" {
			rest[key] = value
		}
	}
	content, err := json.Marshal(rest)
	if err != nil {
		// Not JSON data (no converter makes such an object): kept as it is.
		klog.ErrorS(err, "Caching an object uncompacted", "kind", u.GetKind(), "namespace", u.GetNamespace(), "name", u.GetName())
		return obj
	}
	return &compactObject{
		typeMeta: metav1.TypeMeta{APIVersion: u.GetAPIVersion(), Kind: u.GetKind()},
		objectMeta: metav1.ObjectMeta{
			Name: u.GetName(), GenerateName: u.GetGenerateName(), Namespace: u.GetNamespace(), UID: u.GetUID(),
			ResourceVersion: u.GetResourceVersion(), Generation: u.GetGeneration(),
			CreationTimestamp: u.GetCreationTimestamp(), DeletionTimestamp: u.GetDeletionTimestamp(),
			DeletionGracePeriodSeconds: u.GetDeletionGracePeriodSeconds(),
			Labels:                     u.GetLabels(), Annotations: u.GetAnnotations(), OwnerReferences: u.GetOwnerReferences(),
			Finalizers: u.GetFinalizers(), ManagedFields: u.GetManagedFields(),
		},
		content: content,
	}
}

// GetObjectKind reports the object's apiVersion and kind; callers must not change them.
func (c *compactObject) GetObjectKind() schema.ObjectKind { return &c.typeMeta }

// GetObjectMeta gives read access to the object's metadata (meta.Accessor works on the compact
// form); callers must not change it.
func (c *compactObject) GetObjectMeta() metav1.Object { return &c.objectMeta }

// DeepCopyObject decodes the object: an *unstructured.Unstructured the caller owns, equal to the
// one the cache was given.
func (c *compactObject) DeepCopyObject() runtime.Object {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	if err := utiljson.Unmarshal(c.content, &u.Object); err != nil {
		// The cache wrote content with encoding/json; it always decodes.
		klog.ErrorS(err, "Decoding a cached object", "kind", c.typeMeta.Kind, "namespace", c.objectMeta.Namespace, "name", c.objectMeta.Name)
		u.Object = map[string]any{}
	}
	u.SetAPIVersion(c.typeMeta.APIVersion)
	u.SetKind(c.typeMeta.Kind)
	m := &c.objectMeta
	u.SetName(m.Name)
	u.SetGenerateName(m.GenerateName)
	u.SetNamespace(m.Namespace)
	u.SetUID(m.UID)
	u.SetResourceVersion(m.ResourceVersion)
	u.SetGeneration(m.Generation)
	u.SetCreationTimestamp(m.CreationTimestamp)
	u.SetDeletionTimestamp(m.DeletionTimestamp)
	u.SetDeletionGracePeriodSeconds(m.DeletionGracePeriodSeconds)
	u.SetLabels(m.Labels)
	u.SetAnnotations(m.Annotations)
	u.SetOwnerReferences(m.OwnerReferences)
	u.SetFinalizers(m.Finalizers)
	u.SetManagedFields(m.ManagedFields)
	return u
}

// sameButVersion reports whether two compact objects differ only in resourceVersion, without
// decoding either: encoding/json writes map keys sorted, so equal content is equal bytes.
func (c *compactObject) sameButVersion(other *compactObject) bool {
	if c.typeMeta != other.typeMeta || !bytes.Equal(c.content, other.content) {
		return false
	}
	m := c.objectMeta
	m.ResourceVersion = other.objectMeta.ResourceVersion
	return apiequality.Semantic.DeepEqual(m, other.objectMeta)
}

// ForList returns a cached object as a list response may hold it, as kube-apiserver's watch cache
// lists hold its objects: a typed object itself (the typed list copies its value; the maps and
// slices it shares with the cache nobody may change), a compact object decoded (the decode is the
// copy). A list of a hundred typed objects then allocates no copy of them, which with the
// collector was about a sixth of a LIST's CPU.
func ForList(obj runtime.Object) runtime.Object {
	if c, ok := obj.(*compactObject); ok {
		return c.DeepCopyObject()
	}
	return obj
}
