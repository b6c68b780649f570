package appobjects

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// Read returns the application's objects of type t: the ones the selection names, read by name,
// and the ones its label selectors select, listed in the application's namespace with that
// selector; each kept only if Selects says it belongs to the application. Sorted by name.
func (s *Selection) Read(ctx context.Context, client dynamic.Interface, t Type, app Application) (*unstructured.UnstructuredList, error) {
	objects := client.Resource(t.Resource).Namespace(app.Namespace)
	found := map[string]*unstructured.Unstructured{}
	for _, name := range s.Names(app) {
		obj, err := objects.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s %s/%s: %w", t.Resource.Resource, app.Namespace, name, err)
		}
		found[name] = obj
	}
	for _, sel := range s.include {
		if sel.labels == nil || len(sel.names) > 0 {
			continue
		}
		list, err := objects.List(ctx, metav1.ListOptions{LabelSelector: sel.labels.String()})
		if err != nil {
			return nil, fmt.Errorf("listing %s in %s: %w", t.Resource.Resource, app.Namespace, err)
		}
		for i := range list.Items {
			found[list.Items[i].GetName()] = &list.Items[i]
		}
	}
	out := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": t.Resource.GroupVersion().String(), "kind": t.ListKind}}
	for _, obj := range found {
		if s.Selects(app, obj) {
			obj.SetManagedFields(nil)
			out.Items = append(out.Items, *obj)
		}
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].GetName() < out.Items[j].GetName() })
	return out, nil
}
