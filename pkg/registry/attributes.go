package registry

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// predicate builds the label and field selection for a list or watch.
func (r *REST) predicate(options *metainternalversion.ListOptions) storage.SelectionPredicate {
	p := storage.SelectionPredicate{
		Label:    labels.Everything(),
		Field:    fields.Everything(),
		GetAttrs: r.objectAttrs,
	}
	if options != nil && options.LabelSelector != nil {
		p.Label = options.LabelSelector
	}
	if options != nil && options.FieldSelector != nil {
		p.Field = options.FieldSelector
	}
	return p
}

// objectAttrs exposes the labels and the field-selectable fields of an object.
func (r *REST) objectAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, err
	}
	set := fields.Set{"metadata.name": m.GetName(), "metadata.namespace": m.GetNamespace()}
	for _, f := range r.kind.SelectableFields {
		set[f.Path] = f.Value(obj)
	}
	return m.GetLabels(), set, nil
}

// FieldLabelConversion accepts the field selectors the kind supports and refuses others with the
// error the handlers turn into a 400, as kube-apiserver does for CRDs.
func FieldLabelConversion(kind *release.Kind) runtime.FieldLabelConversionFunc {
	supported := map[string]bool{"metadata.name": true, "metadata.namespace": true}
	for _, f := range kind.SelectableFields {
		supported[f.Path] = true
	}
	return func(label, value string) (string, string, error) {
		if !supported[label] {
			return "", "", fmt.Errorf("field label not supported: %s", label)
		}
		return label, value, nil
	}
}
