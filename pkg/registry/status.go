package registry

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime"
)

// metaObject is the part of object metadata the storage constraints look at.
type metaObject = interface {
	GetName() string
	GetLabels() map[string]string
	GetAnnotations() map[string]string
	GetFinalizers() []string
}

// statusOf reaches the Status field every kind's Go type has, so status handling needs no
// per-kind code.
func statusOf(obj runtime.Object) (reflect.Value, bool) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	status := v.Elem().FieldByName("Status")
	return status, status.IsValid() && status.CanSet()
}

func clearStatus(obj runtime.Object) {
	if status, ok := statusOf(obj); ok {
		status.SetZero()
	}
}

func copyStatus(obj, from runtime.Object) {
	dst, ok := statusOf(obj)
	src, srcOK := statusOf(from)
	if ok && srcOK && dst.Type() == src.Type() {
		dst.Set(src)
	}
}
