package release

import (
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cozystack/apps-apiserver/pkg/tenanttree"
)

// ToObject projects a HelmRelease onto the object it stores (for values that do not decode, see
// UnreadableError: the object is returned with it): the identity and lifecycle metadata
// (uid, resourceVersion, generation, timestamps) are the HelmRelease's, the user's metadata comes
// back without the server's bookkeeping, spec is the release values and status is derived from
// Flux's status.
func (k *Kind) ToObject(gv schema.GroupVersion, hr *unstructured.Unstructured) (runtime.Object, error) {
	name, ok := k.ObjectName(hr.GetName())
	if !ok {
		return nil, fmt.Errorf("HelmRelease %s/%s does not carry the %q prefix of kind %s", hr.GetNamespace(), hr.GetName(), k.ReleaseLayout().ReleasePrefix, k.Kind)
	}
	obj, unreadable := k.decodeContent(hr)
	obj.GetObjectKind().SetGroupVersionKind(k.GroupVersionKind(gv))

	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	m.SetName(name)
	m.SetGenerateName(hr.GetGenerateName())
	m.SetNamespace(hr.GetNamespace())
	m.SetUID(hr.GetUID())
	m.SetResourceVersion(hr.GetResourceVersion())
	m.SetGeneration(hr.GetGeneration())
	m.SetCreationTimestamp(hr.GetCreationTimestamp())
	m.SetDeletionTimestamp(hr.GetDeletionTimestamp())
	m.SetDeletionGracePeriodSeconds(hr.GetDeletionGracePeriodSeconds())
	m.SetLabels(userKeys(hr.GetLabels()))
	m.SetAnnotations(userKeys(hr.GetAnnotations()))
	m.SetOwnerReferences(hr.GetOwnerReferences())
	var finalizers []string
	for _, f := range hr.GetFinalizers() {
		if !isHiddenFinalizer(f) {
			finalizers = append(finalizers, f)
		}
	}
	m.SetFinalizers(finalizers)
	if raw, ok := hr.GetAnnotations()[AnnotationManagedFields]; ok {
		// Field ownership someone else garbled is dropped, as an object without managedFields
		// is valid; the next write records it afresh.
		var managed []metav1.ManagedFieldsEntry
		if err := json.Unmarshal([]byte(raw), &managed); err == nil {
			m.SetManagedFields(managed)
		}
	}
	if unreadable != nil {
		return obj, unreadable
	}
	return obj, nil
}

// UnreadableError says that a HelmRelease of the kind holds values that do not decode as the
// kind's spec (written by another tool, by hand, or by an older server with another schema).
// ToObject still returns the object, with an empty spec and a Ready condition saying why, so it
// stays listed, readable and deletable; it cannot be updated until its values are fixed, because
// an update would replace values nobody could see.
type UnreadableError struct {
	Kind, Namespace, Name string
	Err                   error
}

func (e *UnreadableError) Error() string {
	return fmt.Sprintf("the values of HelmRelease %s/%s cannot be read as a %s spec: %v", e.Namespace, e.Name, e.Kind, e.Err)
}

func (e *UnreadableError) Unwrap() error { return e.Err }

// ReasonUnreadableValues is the Ready condition's reason on an object whose release values do
// not decode.
const ReasonUnreadableValues = "UnreadableValues"

// decodeContent decodes the release values and status into a new object. Values that do not
// decode leave the spec empty and are reported in the object's Ready condition and the error.
func (k *Kind) decodeContent(hr *unstructured.Unstructured) (runtime.Object, *UnreadableError) {
	status := k.projectStatus(hr)
	content := map[string]any{"status": status}
	values, found, err := unstructured.NestedFieldNoCopy(hr.Object, "spec", "values")
	if found && values != nil {
		content["spec"] = values
		if k.DefaultSpec != nil {
			if m, ok := values.(map[string]any); ok {
				content["spec"] = runtime.DeepCopyJSON(m)
				k.DefaultSpec(content)
			}
		}
	}
	obj := k.New()
	if err == nil {
		err = setContent(obj, content)
	}
	if err == nil {
		return obj, nil
	}
	if raw, marshalErr := json.Marshal(content); marshalErr == nil {
		// encoding/json names the field that failed; the unstructured converter does not.
		if jsonErr := json.Unmarshal(raw, k.New()); jsonErr != nil {
			err = jsonErr
		}
	}
	unreadable := &UnreadableError{Kind: k.Kind, Namespace: hr.GetNamespace(), Name: hr.GetName(), Err: err}
	conditions, _ := status["conditions"].([]any)
	kept := []any{map[string]any{
		"type": "Ready", "status": "False", "reason": ReasonUnreadableValues, "message": unreadable.Error(),
		"lastTransitionTime": hr.GetCreationTimestamp().UTC().Format(time.RFC3339),
	}}
	for _, c := range conditions {
		if cm, ok := c.(map[string]any); !ok || cm["type"] != "Ready" {
			kept = append(kept, c)
		}
	}
	status["conditions"] = kept
	obj = k.New()
	if err := setContent(obj, map[string]any{"status": status}); err != nil {
		// Flux's status did not decode either: only the condition is left.
		obj = k.New()
		_ = setContent(obj, map[string]any{"status": map[string]any{"conditions": kept[:1]}})
	}
	return obj, unreadable
}

// setContent fills an empty object of the kind with {"spec": ..., "status": ...}: a typed kind's
// Go struct by conversion, a defined kind's unstructured object as it is (its spec must be a JSON
// object, as the HelmRelease's values are for Flux).
func setContent(obj runtime.Object, content map[string]any) error {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return runtime.DefaultUnstructuredConverter.FromUnstructured(content, obj)
	}
	for key, value := range content {
		if key == "spec" {
			if _, isObject := value.(map[string]any); !isObject {
				return fmt.Errorf("spec: expected an object, got %T", value)
			}
		}
		u.Object[key] = value
	}
	return nil
}

// projectStatus maps Flux's HelmRelease status onto the shared AppStatus fields and adds the
// state of the release's workload objects (see projectWorkloads).
func (k *Kind) projectStatus(hr *unstructured.Unstructured) map[string]any {
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
	if name, ok := k.ObjectName(hr.GetName()); ok && k.NestsTenants {
		status["namespace"] = tenanttree.ChildNamespace(hr.GetNamespace(), name)
	}
	k.projectWorkloads(hr, status)
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
