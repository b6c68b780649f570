package release

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// NewRelease returns an empty HelmRelease for the object, ready for ApplyTo.
func (k *Kind) NewRelease(namespace, name string) *unstructured.Unstructured {
	hr := &unstructured.Unstructured{Object: map[string]any{}}
	hr.SetGroupVersionKind(HelmReleaseGVK)
	hr.SetNamespace(namespace)
	hr.SetName(k.ReleaseName(name))
	return hr
}

// ApplyTo writes the object into the fields of the HelmRelease this server owns and leaves every
// other field alone, so an update never drops Flux's finalizer, spec fields another tool set, or
// fields this server does not know. The user's labels and annotations replace the visible ones;
// the server's reserved keys are rewritten from the object.
func (k *Kind) ApplyTo(obj runtime.Object, hr *unstructured.Unstructured) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}

	if hr.GetResourceVersion() == "" {
		// Only a new release records the prefix its object's name was generated from.
		hr.SetGenerateName(m.GetGenerateName())
	}
	layout := k.ReleaseLayout()
	labels := withUserKeys(hr.GetLabels(), m.GetLabels())
	labels[LabelApplicationKind] = k.ApplicationKind
	labels[LabelApplicationGroup] = ApplicationGroup
	labels[LabelApplicationName] = m.GetName()
	for key, value := range layout.labels() {
		// Only set when absent: an operator may move a release to another shard.
		if _, set := labels[key]; !set {
			labels[key] = value
		}
	}
	hr.SetLabels(labels)

	annotations := withUserKeys(hr.GetAnnotations(), m.GetAnnotations())
	delete(annotations, AnnotationManagedFields)
	if managed := m.GetManagedFields(); len(managed) > 0 {
		raw, err := json.Marshal(managed)
		if err != nil {
			return fmt.Errorf("encoding managedFields: %w", err)
		}
		annotations[AnnotationManagedFields] = string(raw)
	}
	if len(annotations) == 0 {
		annotations = nil
	}
	hr.SetAnnotations(annotations)

	var finalizers []string
	for _, f := range hr.GetFinalizers() {
		if isHiddenFinalizer(f) {
			finalizers = append(finalizers, f)
		}
	}
	hr.SetFinalizers(append(finalizers, m.GetFinalizers()...))
	hr.SetOwnerReferences(m.GetOwnerReferences())

	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("encoding %s %s/%s: %w", k.Kind, m.GetNamespace(), m.GetName(), err)
	}
	values, _, _ := unstructured.NestedMap(content, "spec")
	if values == nil {
		values = map[string]any{}
	}
	if err := unstructured.SetNestedMap(hr.Object, values, "spec", "values"); err != nil {
		return err
	}
	return layout.Chart.applyTo(hr)
}
