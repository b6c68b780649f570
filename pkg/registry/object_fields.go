package registry

import (
	"fmt"
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// metaObject is the part of object metadata the storage constraints look at.
type metaObject = interface {
	GetName() string
	GetLabels() map[string]string
	GetAnnotations() map[string]string
	GetFinalizers() []string
}

// topField reaches the Spec or Status field every kind's Go type has, so spec and status
// handling needs no per-kind code.
func topField(obj runtime.Object, name string) (reflect.Value, bool) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	f := v.Elem().FieldByName(name)
	return f, f.IsValid() && f.CanSet()
}

func statusOf(obj runtime.Object) (reflect.Value, bool) { return topField(obj, "Status") }

// specContent is the object's spec as JSON-shaped data under "spec", the form schema validation
// and defaulting work on.
func specContent(obj runtime.Object) (map[string]any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		// A defined kind's object is its JSON already: validation and defaulting work on it in
		// place, as apiextensions-apiserver's do on a custom resource.
		spec, found := u.Object["spec"]
		if !found {
			return map[string]any{}, nil
		}
		return map[string]any{"spec": spec}, nil
	}
	spec, ok := topField(obj, "Spec")
	if !ok {
		return nil, fmt.Errorf("%T has no spec", obj)
	}
	if spec.Kind() != reflect.Pointer {
		spec = spec.Addr()
	}
	if spec.IsNil() {
		return map[string]any{}, nil
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(spec.Interface())
	if err != nil {
		return nil, err
	}
	return map[string]any{"spec": content}, nil
}

// setSpecContent replaces the object's spec with JSON-shaped data under "spec".
func setSpecContent(obj runtime.Object, content map[string]any) error {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if spec, found := content["spec"]; found {
			u.Object["spec"] = spec
		} else {
			delete(u.Object, "spec")
		}
		return nil
	}
	spec, ok := topField(obj, "Spec")
	if !ok {
		return fmt.Errorf("%T has no spec", obj)
	}
	specMap, found := content["spec"].(map[string]any)
	if spec.Kind() == reflect.Pointer {
		if !found {
			spec.SetZero()
			return nil
		}
		fresh := reflect.New(spec.Type().Elem())
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(specMap, fresh.Interface()); err != nil {
			return err
		}
		spec.Set(fresh)
		return nil
	}
	fresh := reflect.New(spec.Type())
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(specMap, fresh.Interface()); err != nil {
		return err
	}
	spec.Set(fresh.Elem())
	return nil
}

// ModelName is the OpenAPI model name of a kind's Go type, from the generated model names.
func ModelName(obj runtime.Object) (string, error) {
	named, ok := obj.(interface{ OpenAPIModelName() string })
	if !ok {
		return "", fmt.Errorf("%T has no OpenAPI model name: run hack/update-codegen.sh", obj)
	}
	return named.OpenAPIModelName(), nil
}

// sameSpec reports whether two objects of a kind have semantically equal specs.
func sameSpec(a, b runtime.Object) bool {
	if ua, ok := a.(*unstructured.Unstructured); ok {
		ub, ok := b.(*unstructured.Unstructured)
		return ok && apiequality.Semantic.DeepEqual(ua.Object["spec"], ub.Object["spec"])
	}
	specA, okA := topField(a, "Spec")
	specB, okB := topField(b, "Spec")
	return okA && okB && apiequality.Semantic.DeepEqual(specA.Interface(), specB.Interface())
}

func clearStatus(obj runtime.Object) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		delete(u.Object, "status")
		return
	}
	if status, ok := statusOf(obj); ok {
		status.SetZero()
	}
}

func copyStatus(obj, from runtime.Object) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		delete(u.Object, "status")
		if src, ok := from.(*unstructured.Unstructured); ok {
			if status, found := src.Object["status"]; found {
				u.Object["status"] = runtime.DeepCopyJSONValue(status)
			}
		}
		return
	}
	dst, ok := statusOf(obj)
	src, srcOK := statusOf(from)
	if ok && srcOK && dst.Type() == src.Type() {
		dst.Set(src)
	}
}
