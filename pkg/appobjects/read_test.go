package appobjects

import (
	"context"
	"errors"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
)

func unstructuredSecret(namespace, name string, labels, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret"}}
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetLabels(labels)
	u.SetAnnotations(annotations)
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "helm"}})
	return u
}

// Read finds the named objects by name and the labelled ones by a list in the application's
// namespace, keeps what Selects keeps, sorted, without managedFields.
func TestReadGathersTheSelectedObjects(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{Types[0].Resource: "SecretList"},
		unstructuredSecret("tenant-a", "postgres-db-credentials", nil, map[string]string{HelmReleaseAnnotation: "postgres-db"}),
		unstructuredSecret("tenant-a", "tenant-ca", map[string]string{"internal.cozystack.io/tenant-ca": "true"}, nil),
		unstructuredSecret("tenant-a", "stolen", map[string]string{"internal.cozystack.io/tenant-ca": "true"}, map[string]string{HelmReleaseAnnotation: "postgres-other"}),
		unstructuredSecret("tenant-b", "tenant-ca", map[string]string{"internal.cozystack.io/tenant-ca": "true"}, nil),
	)
	s, _ := Compile(postgresSecrets())
	list, err := s.Read(context.Background(), client, Types[0], app)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, item := range list.Items {
		names = append(names, item.GetNamespace()+"/"+item.GetName())
		if item.GetManagedFields() != nil {
			t.Errorf("%s keeps managedFields", item.GetName())
		}
	}
	if want := []string{"tenant-a/postgres-db-credentials", "tenant-a/tenant-ca"}; !slices.Equal(names, want) {
		t.Errorf("read %v, want %v", names, want)
	}
	if list.GetKind() != "SecretList" || list.GetAPIVersion() != "v1" {
		t.Errorf("list kind %s %s", list.GetAPIVersion(), list.GetKind())
	}

	// A failure other than not found is the caller's error, naming what was read.
	client.PrependReactor("get", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd is down")
	})
	if _, err := s.Read(context.Background(), client, Types[0], app); err == nil {
		t.Error("a failed read is not an error")
	}
}
