package registry

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// standardFinalizers are the finalizer names Kubernetes itself uses without a domain.
var standardFinalizers = sets.New(metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents, string(corev1.FinalizerKubernetes))

// finalizerWarnings are the warnings kube-apiserver gives for a custom resource's finalizers that
// a create or update adds (old is nil for a create): names that are not qualified names, and names
// without a domain and path. Written here because apiextensions-apiserver keeps its rule
// unexported (pkg/registry/customresource); the wording is the same, so clients see the same text.
func finalizerWarnings(obj, old runtime.Object) []string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	added := sets.New(m.GetFinalizers()...)
	if old != nil {
		if o, err := meta.Accessor(old); err == nil {
			added = added.Difference(sets.New(o.GetFinalizers()...))
		}
	}
	path := field.NewPath("metadata", "finalizers").String()
	var warnings []string
	for _, name := range sets.List(added) {
		for _, msg := range validation.IsQualifiedName(name) {
			warnings = append(warnings, fmt.Sprintf("%s: %q: %s", path, name, msg))
		}
		if strings.Contains(name, "/") || standardFinalizers.Has(name) {
			continue
		}
		if strings.Contains(name, ".") {
			warnings = append(warnings, fmt.Sprintf("%s: %q: prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers", path, name))
		} else {
			warnings = append(warnings, fmt.Sprintf("%s: %q: prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers", path, name))
		}
	}
	return warnings
}
