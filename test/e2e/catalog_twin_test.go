package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// twinnedApplications are the defined kinds the twin comparison covers: objects with defaults,
// enums, patterns, int-or-string quantities, maps of objects, lists, free-form values and
// x-kubernetes-validations between them.
var twinnedApplications = []string{"postgres", "redis", "kafka", "clickhouse", "nats", "mongodb"}

// TestCatalogTwinRandomPatches: each defined kind gets a CRD twin built from the schema served
// for it, and the same seeded random merge patches go to both (see TestTwinRandomPatches); an
// empty object (the schema's defaults) is the starting point.
func TestCatalogTwinRandomPatches(t *testing.T) {
	ctx := context.Background()
	seed := int64(20261207)
	if s := os.Getenv("COZY_TWIN_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d", seed)
	ns := newTenant(t)
	var defined []*unstructured.Unstructured
	for _, name := range twinnedApplications {
		def := definition(t, name)
		applyDefinition(t, def)
		defined = append(defined, def)
	}
	var schemas map[string]any
	eventually(t, 30*time.Second, "the defined kinds in the served OpenAPI", func(ctx context.Context) (bool, error) {
		var err error
		if schemas, err = servedSchemas(ctx); err != nil {
			return false, err
		}
		for _, def := range defined {
			kind := definedKind(t, def).Kind.Kind
			if _, ok := schemas["io.cozy.apps.v1alpha1."+kind]; !ok {
				return false, fmt.Errorf("no schema for %s", kind)
			}
		}
		return true, nil
	})
	for _, def := range defined {
		k := definedKind(t, def).Kind
		awaitServed(t, cp.Dynamic, k.Resource, ns)
		if err := installTwin(ctx, schemas, k.Kind, k.Resource, k.Singular, nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cp.APIExtensions.ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), k.Resource+"."+twinGroup, metav1.DeleteOptions{})
		})
		t.Run(k.Kind, func(t *testing.T) {
			example := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps.cozy.io/v1alpha1", "kind": k.Kind}}
			compareRandomPatches(t, seed, schemas, k.Kind, k.Resource, example)
		})
	}
}
