package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
			compareRandomPatches(t, seed, schemas, k, example)
		})
	}
}

// TestCatalogFieldValidation: unknown fields in a defined kind's object are handled exactly as
// by its CRD twin under each field validation directive: the same status, the same warnings, and
// never stored.
func TestCatalogFieldValidation(t *testing.T) {
	ctx := context.Background()
	def := renamedDefinition(t, "redis", "fieldcheck", "FieldCheck", "fieldchecks", "fieldcheck-")
	applyDefinition(t, def)
	ns := newTenant(t)
	awaitServed(t, cp.Dynamic, "fieldchecks", ns)
	var schemas map[string]any
	eventually(t, 30*time.Second, "FieldCheck in the served OpenAPI", func(ctx context.Context) (bool, error) {
		var err error
		schemas, err = servedSchemas(ctx)
		_, ok := schemas["io.cozy.apps.v1alpha1.FieldCheck"]
		return ok, err
	})
	if err := installTwin(ctx, schemas, "FieldCheck", "fieldchecks", "fieldcheck", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cp.APIExtensions.ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), "fieldchecks."+twinGroup, metav1.DeleteOptions{})
	})
	client, warnings := warningClient()
	type outcome struct {
		code     int32
		warnings string
		stored   string
	}
	results := map[string]map[string]outcome{}
	for _, group := range []string{"apps.cozy.io", twinGroup} {
		results[group] = map[string]outcome{}
		c := client.Resource(schema.GroupVersionResource{Group: group, Version: "v1alpha1", Resource: "fieldchecks"}).Namespace(ns)
		for _, directive := range []string{metav1.FieldValidationStrict, metav1.FieldValidationWarn, metav1.FieldValidationIgnore} {
			obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": group + "/v1alpha1", "kind": "FieldCheck",
				"metadata": map[string]any{"name": strings.ToLower(directive)}, "bogus": true,
				"spec": map[string]any{"replicas": int64(2), "unknownSpec": "x", "resources": map[string]any{"cpu": "1", "gpu": "2"}}}}
			var o outcome
			_, err := c.Create(ctx, obj, metav1.CreateOptions{FieldValidation: directive})
			if status, ok := err.(apierrors.APIStatus); ok {
				o.code = status.Status().Code
			} else if err != nil {
				t.Fatal(err)
			}
			msgs := warnings.take()
			sort.Strings(msgs)
			o.warnings = strings.Join(msgs, "; ")
			if got, err := c.Get(ctx, strings.ToLower(directive), metav1.GetOptions{}); err == nil {
				raw, _ := json.Marshal(got.Object["spec"])
				_, bogus := got.Object["bogus"]
				o.stored = fmt.Sprintf("%s bogus=%v", raw, bogus)
			}
			results[group][directive] = o
		}
	}
	for directive, crd := range results[twinGroup] {
		if got := results["apps.cozy.io"][directive]; got != crd {
			t.Errorf("%s:\n  here %+v\n  CRD  %+v", directive, got, crd)
		}
	}
	if w := results["apps.cozy.io"][metav1.FieldValidationWarn].warnings; !strings.Contains(w, `unknown field "spec.unknownSpec"`) {
		t.Errorf("Warn gave the warnings %q", w)
	}
}
