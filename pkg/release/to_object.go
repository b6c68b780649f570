package release

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ToObject projects a HelmRelease onto the object it stores: the identity and lifecycle metadata
// (uid, resourceVersion, generation, timestamps) are the HelmRelease's, the user's metadata comes
// back without the server's bookkeeping, spec is the release values and status is derived from
// Flux's status.
func (k *Kind) ToObject(gv schema.GroupVersion, hr *unstructured.Unstructured) (runtime.Object, error) {
	name, ok := k.ObjectName(hr.GetName())
	if !ok {
		return nil, fmt.Errorf("HelmRelease %s/%s does not carry the %q prefix of kind %s", hr.GetNamespace(), hr.GetName(), k.ReleasePrefix, k.Kind)
	}
	content := map[string]any{}
	if values, found, _ := unstructured.NestedMap(hr.Object, "spec", "values"); found {
		content["spec"] = values
	}
	content["status"] = projectStatus(hr)
	obj := k.New()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(content, obj); err != nil {
		return nil, fmt.Errorf("decoding HelmRelease %s/%s values as %s: %w", hr.GetNamespace(), hr.GetName(), k.Kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(k.GroupVersionKind(gv))

	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	m.SetName(name)
	m.SetNamespace(hr.GetNamespace())
	m.SetUID(hr.GetUID())
	m.SetResourceVersion(hr.GetResourceVersion())
	m.SetGeneration(hr.GetGeneration())
	m.SetCreationTimestamp(hr.GetCreationTimestamp())
	m.SetDeletionTimestamp(hr.GetDeletionTimestamp())
	m.SetDeletionGracePeriodSeconds(hr.GetDeletionGracePeriodSeconds())
	m.SetLabels(withoutReserved(hr.GetLabels()))
	m.SetAnnotations(withoutReserved(hr.GetAnnotations()))
	m.SetOwnerReferences(hr.GetOwnerReferences())
	var finalizers []string
	for _, f := range hr.GetFinalizers() {
		if !isHiddenFinalizer(f) {
			finalizers = append(finalizers, f)
		}
	}
	m.SetFinalizers(finalizers)
	if raw, ok := hr.GetAnnotations()[AnnotationManagedFields]; ok {
		var managed []metav1.ManagedFieldsEntry
		if err := json.Unmarshal([]byte(raw), &managed); err != nil {
			return nil, fmt.Errorf("decoding managedFields of HelmRelease %s/%s: %w", hr.GetNamespace(), hr.GetName(), err)
		}
		m.SetManagedFields(managed)
	}
	return obj, nil
}

// projectStatus maps Flux's HelmRelease status onto the shared AppStatus fields.
func projectStatus(hr *unstructured.Unstructured) map[string]any {
	status := map[string]any{}
	if conditions, found, _ := unstructured.NestedSlice(hr.Object, "status", "conditions"); found {
		status["conditions"] = conditions
	}
	if observed, found, _ := unstructured.NestedInt64(hr.Object, "status", "observedGeneration"); found && observed > 0 {
		status["observedGeneration"] = observed
	}
	if version := installedChartVersion(hr); version != "" {
		status["version"] = version
	}
	return status
}

// installedChartVersion is the chart version of the latest release in Flux's history, falling back
// to the last attempted revision before the first release completes.
func installedChartVersion(hr *unstructured.Unstructured) string {
	if history, found, _ := unstructured.NestedSlice(hr.Object, "status", "history"); found && len(history) > 0 {
		if latest, ok := history[0].(map[string]any); ok {
			if v, ok := latest["chartVersion"].(string); ok && v != "" {
				return v
			}
		}
	}
	v, _, _ := unstructured.NestedString(hr.Object, "status", "lastAttemptedRevision")
	return v
}

func withoutReserved(in map[string]string) map[string]string {
	var out map[string]string
	for key, value := range in {
		if IsReserved(key) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(in))
		}
		out[key] = value
	}
	return out
}
