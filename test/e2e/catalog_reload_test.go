package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/cozystack/apps-apiserver/pkg/catalog"
)

// TestCatalogHotReload: a definition added, tightened, given a default, renamed, deleted and
// defined again takes effect on every replica without a restart, on the objects already stored
// too, while a watch on a typed kind stays open throughout.
func TestCatalogHotReload(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	replicaClient := startReplica(t, "catalog-replica")

	buckets := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	list, err := buckets.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bucketWatch, err := buckets.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer bucketWatch.Stop()

	// Added: served at once by both replicas.
	def := renamedDefinition(t, "redis", "gadget", "Gadget", "gadgets", "gadget-")
	applyDefinition(t, def)
	awaitServed(t, cp.Dynamic, "gadgets", ns)
	awaitServed(t, replicaClient, "gadgets", ns)
	gadgets := cp.Dynamic.Resource(gvr("gadgets")).Namespace(ns)
	first := mustCreate(t, gadgets, gadget("first", map[string]any{"replicas": int64(5)}))

	// Tightened: a new value the schema now refuses is a 422; the stored object, invalid under
	// the new schema, stays updatable (ratcheting).
	setSchema(t, def, func(schema map[string]any) {
		schema["properties"].(map[string]any)["replicas"].(map[string]any)["maximum"] = 3
	})
	if _, err := cp.ApplyDefinition(ctx, def); err != nil {
		t.Fatal(err)
	}
	for _, client := range []dynamic.Interface{cp.Dynamic, replicaClient} {
		eventually(t, 20*time.Second, "the tightened schema served", func(ctx context.Context) (bool, error) {
			_, err := client.Resource(gvr("gadgets")).Namespace(ns).Create(ctx, gadget("second", map[string]any{"replicas": int64(5)}), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return apierrors.IsInvalid(err) && strings.Contains(err.Error(), "spec.replicas"), err
		})
	}
	if _, err := gadgets.Patch(ctx, "first", types.MergePatchType, []byte(`{"spec":{"external":true}}`), metav1.PatchOptions{}); err != nil {
		t.Errorf("updating another field of an object the tightened schema refuses: %v", err)
	}
	if _, err := gadgets.Patch(ctx, "first", types.MergePatchType, []byte(`{"spec":{"replicas":6}}`), metav1.PatchOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("a new value beyond the tightened maximum: %v, want 422", err)
	}

	// Defaulted: a field the definition now defaults reads on the stored object in a list, which
	// the cache serves: it converted the kind's releases again, without a write.
	setSchema(t, def, func(schema map[string]any) {
		schema["properties"].(map[string]any)["tier"] = map[string]any{"type": "string", "default": "gold"}
	})
	if _, err := cp.ApplyDefinition(ctx, def); err != nil {
		t.Fatal(err)
	}
	for _, client := range []dynamic.Interface{cp.Dynamic, replicaClient} {
		eventually(t, 20*time.Second, "the new default on the listed object", func(ctx context.Context) (bool, error) {
			listed, err := listedObject(ctx, client, "gadgets", ns, "first")
			tier, _, _ := unstructured.NestedString(listed.Object, "spec", "tier")
			return tier == "gold", err
		})
	}

	// Renamed: the objects are served under the new resource name, the old one is gone.
	for field, value := range map[string]string{"plural": "gizmos", "singular": "gizmo"} {
		if err := unstructured.SetNestedField(def.Object, value, "spec", "application", field); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cp.ApplyDefinition(ctx, def); err != nil {
		t.Fatal(err)
	}
	for _, client := range []dynamic.Interface{cp.Dynamic, replicaClient} {
		awaitServed(t, client, "gizmos", ns)
		awaitGone(t, client, "gadgets", ns)
		eventually(t, 20*time.Second, "the object under its new resource name", func(ctx context.Context) (bool, error) {
			got, err := client.Resource(gvr("gizmos")).Namespace(ns).Get(ctx, "first", metav1.GetOptions{})
			return err == nil && got.GetUID() == first.GetUID(), err
		})
	}

	// Deleted: no longer served; its releases are never touched.
	deleteDefinition(t, def.GetName())
	for _, client := range []dynamic.Interface{cp.Dynamic, replicaClient} {
		awaitGone(t, client, "gizmos", ns)
	}
	if hr, err := helmRelease(ctx, ns, "gadget-first"); err != nil || hr.GetDeletionTimestamp() != nil {
		t.Errorf("the release of a kind whose definition was deleted: %v (deleting: %v)", err, hr != nil && hr.GetDeletionTimestamp() != nil)
	}

	// Defined again: the release that stayed is listed again under it, the same object.
	if _, err := cp.ApplyDefinition(ctx, def); err != nil {
		t.Fatal(err)
	}
	for _, client := range []dynamic.Interface{cp.Dynamic, replicaClient} {
		eventually(t, 20*time.Second, "the object listed under its definition again", func(ctx context.Context) (bool, error) {
			listed, err := listedObject(ctx, client, "gizmos", ns, "first")
			return err == nil && listed.GetUID() == first.GetUID(), err
		})
	}

	// The watch on the typed kind was never cut.
	mustCreate(t, buckets, bucketObject("after-catalog-changes"))
	expectEvent(t, bucketWatch, watch.Added, "after-catalog-changes")
}

// TestCatalogBadDefinitionsServeNothingNew: an invalid definition, one taking a typed kind's
// name, and a valid definition made invalid each say why in an Event; nothing new is served, what
// was served stays served, and nothing else is affected — also under a definition churned in a
// tight loop.
func TestCatalogBadDefinitionsServeNothingNew(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)

	broken := renamedDefinition(t, "redis", "broken", "Broken", "brokens", "broken-")
	setSchemaText(t, broken, `{"type":"object","properties":{"a":{"$ref":"#/definitions/x"}}}`)
	applyDefinition(t, broken)
	if msg := awaitDefinitionEvent(t, "broken", catalog.ReasonInvalidDefinition); !strings.Contains(msg, "$ref") {
		t.Errorf("event on an invalid schema: %q", msg)
	}
	if _, err := cp.Dynamic.Resource(gvr("brokens")).Namespace(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("an invalid definition is served: %v", err)
	}

	deep := renamedDefinition(t, "redis", "deep", "Deep", "deeps", "deep-")
	setSchemaText(t, deep, strings.Repeat(`{"type":"object","properties":{"a":`, 500)+`{"type":"string"}`+strings.Repeat(`}}`, 500))
	applyDefinition(t, deep)
	awaitDefinitionEvent(t, "deep", catalog.ReasonInvalidDefinition)

	taken := renamedDefinition(t, "redis", "fake-buckets", "FakeBucket", "buckets", "fake-bucket-")
	applyDefinition(t, taken)
	if msg := awaitDefinitionEvent(t, "fake-buckets", catalog.ReasonNameConflict); !strings.Contains(msg, "Bucket") {
		t.Errorf("event on a definition taking a typed kind's name: %q", msg)
	}
	mustCreate(t, cp.Dynamic.Resource(gvr("buckets")).Namespace(ns), bucketObject("still-typed"))

	// Valid, then made invalid: the kind as it was stays served.
	kept := renamedDefinition(t, "redis", "kept", "Kept", "kepts", "kept-")
	applyDefinition(t, kept)
	awaitServed(t, cp.Dynamic, "kepts", ns)
	setSchemaText(t, kept, `{"type":"object","properties":{"n":{"type":"integer","default":"not a number"}}}`)
	if _, err := cp.ApplyDefinition(ctx, kept); err != nil {
		t.Fatal(err)
	}
	if msg := awaitDefinitionEvent(t, "kept", catalog.ReasonInvalidDefinition); !strings.Contains(msg, "still serving") {
		t.Errorf("event on a definition made invalid: %q", msg)
	}
	mustCreate(t, cp.Dynamic.Resource(gvr("kepts")).Namespace(ns), gadgetOf("Kept", "k1", map[string]any{"replicas": int64(2)}))

	// Churned: 100 changes as fast as kube-apiserver takes them; the server keeps serving and
	// ends with the last one.
	churn := renamedDefinition(t, "redis", "churn", "Churn", "churns", "churn-")
	applyDefinition(t, churn)
	for i := range 100 {
		setSchema(t, churn, func(schema map[string]any) {
			schema["properties"].(map[string]any)["replicas"].(map[string]any)["maximum"] = 100 + i
		})
		if _, err := cp.ApplyDefinition(ctx, churn); err != nil {
			t.Fatalf("churn %d: %v", i, err)
		}
	}
	eventually(t, 20*time.Second, "the last churned schema served", func(ctx context.Context) (bool, error) {
		churns := cp.Dynamic.Resource(gvr("churns")).Namespace(ns)
		dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
		if _, err := churns.Create(ctx, gadgetOf("Churn", "at-max", map[string]any{"replicas": int64(199)}), dry); err != nil {
			return false, err
		}
		_, err := churns.Create(ctx, gadgetOf("Churn", "over-max", map[string]any{"replicas": int64(200)}), dry)
		return apierrors.IsInvalid(err), fmt.Errorf("replicas 200: %v", err)
	})
	mustCreate(t, cp.Dynamic.Resource(gvr("buckets")).Namespace(ns), bucketObject("after-churn"))
}

func gadget(name string, spec map[string]any) *unstructured.Unstructured {
	return gadgetOf("Gadget", name, spec)
}

func gadgetOf(kind, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps.cozy.io/v1alpha1", "kind": kind, "metadata": map[string]any{"name": name}, "spec": spec,
	}}
}

// setSchema changes the definition's openAPISchema as parsed JSON.
func setSchema(t *testing.T, def *unstructured.Unstructured, change func(schema map[string]any)) {
	t.Helper()
	raw, _, _ := unstructured.NestedString(def.Object, "spec", "application", "openAPISchema")
	var schema map[string]any
	if err := json.Unmarshal([]byte(raw), &schema); err != nil {
		t.Fatal(err)
	}
	change(schema)
	out, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	setSchemaText(t, def, string(out))
}

func setSchemaText(t *testing.T, def *unstructured.Unstructured, schema string) {
	t.Helper()
	if err := unstructured.SetNestedField(def.Object, schema, "spec", "application", "openAPISchema"); err != nil {
		t.Fatal(err)
	}
}
