package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

func hasCause(err error, field, message string) bool {
	for _, c := range statusCauses(err) {
		if strings.HasPrefix(c, field+":") && strings.Contains(c, message) {
			return true
		}
	}
	return false
}

// TestInvalidCreate checks 422s with CRD-style field paths, on real and dry-run creates, and that
// nothing is stored.
func TestInvalidCreate(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	clusters := cp.Dynamic.Resource(gvr("kuberneteses")).Namespace(ns)
	bad := kubernetesObject("bad", map[string]any{
		"version":      "v1.99",
		"controlPlane": map[string]any{"replicas": int64(9)},
		"host":         "Not A Host",
	})
	for _, dryRun := range [][]string{nil, {metav1.DryRunAll}} {
		_, err := clusters.Create(ctx, bad.DeepCopy(), metav1.CreateOptions{DryRun: dryRun})
		if !apierrors.IsInvalid(err) {
			t.Fatalf("dryRun=%v: want 422, got %v", dryRun, err)
		}
		for _, want := range [][2]string{
			{"spec.version", "Unsupported value"},
			{"spec.controlPlane.replicas", "less than or equal to 7"},
			{"spec.host", "should match"},
		} {
			if !hasCause(err, want[0], want[1]) {
				t.Errorf("dryRun=%v: no cause %v in %v", dryRun, want, statusCauses(err))
			}
		}
	}
	cel := kubernetesObject("cel", map[string]any{"nodeGroups": map[string]any{"md0": map[string]any{"minReplicas": int64(5), "maxReplicas": int64(2)}}})
	_, err := clusters.Create(ctx, cel, metav1.CreateOptions{})
	if !hasCause(err, "spec.nodeGroups[md0].minReplicas", "minReplicas must be less than or equal to maxReplicas") {
		t.Errorf("CEL rule: %v", statusCauses(err))
	}
	for _, name := range []string{"bad", "cel"} {
		if _, err := helmRelease(ctx, ns, "kubernetes-"+name); !apierrors.IsNotFound(err) {
			t.Errorf("an invalid object was stored as a HelmRelease: %v", err)
		}
	}

	badMeta := kubernetesObject("Bad_Name", map[string]any{})
	if _, err := clusters.Create(ctx, badMeta, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !hasCause(err, "metadata.name", "") {
		t.Errorf("invalid name: %v", err)
	}
	badLabel := kubernetesObject("ok", map[string]any{})
	badLabel.SetLabels(map[string]string{"bad key!": "x"})
	if _, err := clusters.Create(ctx, badLabel, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !hasCause(err, "metadata.labels", "") {
		t.Errorf("invalid label key: %v", err)
	}
}

// TestDefaultsAreStored checks that schema defaults are applied on write and stored in the
// HelmRelease values.
func TestDefaultsAreStored(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	clusters := cp.Dynamic.Resource(gvr("kuberneteses")).Namespace(ns)
	created, err := clusters.Create(ctx, kubernetesObject("d", map[string]any{"nodeGroups": map[string]any{"md0": map[string]any{}}}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hr, err := helmRelease(ctx, ns, "kubernetes-d")
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []map[string]any{created.Object["spec"].(map[string]any), hr.Object["spec"].(map[string]any)["values"].(map[string]any)} {
		md0, _, _ := unstructured.NestedMap(obj, "nodeGroups", "md0")
		if obj["version"] != "v1.35" || obj["storageClass"] != "replicated" || md0["maxReplicas"] != int64(10) || md0["instanceType"] != "u1.medium" {
			t.Errorf("defaults missing: %v", obj)
		}
		if replicas, _, _ := unstructured.NestedInt64(obj, "controlPlane", "replicas"); replicas != 2 {
			t.Errorf("controlPlane.replicas default missing: %v", obj["controlPlane"])
		}
	}
}

// TestDefaultsAppliedOnRead: a release written without defaults (by an older server or another
// tool) reads as if it had them, as a custom resource read from etcd does, and a metadata-only
// update neither moves its generation nor rewrites its values.
func TestDefaultsAppliedOnRead(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	seedRelease(t, "Kubernetes", ns, "bare", map[string]any{"version": "v1.35"})
	clusters := cp.Dynamic.Resource(gvr("kuberneteses")).Namespace(ns)
	var got *unstructured.Unstructured
	eventually(t, 5*time.Second, "the seeded release is served", func(ctx context.Context) (bool, error) {
		var err error
		got, err = clusters.Get(ctx, "bare", metav1.GetOptions{})
		return err == nil, err
	})
	if replicas, _, _ := unstructured.NestedInt64(got.Object, "spec", "controlPlane", "replicas"); replicas != 2 {
		t.Errorf("defaults not applied on read: %v", got.Object["spec"])
	}
	before, err := helmRelease(ctx, ns, "kubernetes-bare")
	if err != nil {
		t.Fatal(err)
	}
	labelled, err := clusters.Patch(ctx, "bare", types.MergePatchType, []byte(`{"metadata":{"labels":{"a":"b"}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if labelled.GetGeneration() != got.GetGeneration() {
		t.Errorf("a label change moved generation %d -> %d", got.GetGeneration(), labelled.GetGeneration())
	}
	after, err := helmRelease(ctx, ns, "kubernetes-bare")
	if err != nil {
		t.Fatal(err)
	}
	if !equalJSON(before.Object["spec"].(map[string]any)["values"], after.Object["spec"].(map[string]any)["values"]) || after.GetGeneration() != before.GetGeneration() {
		t.Errorf("a label change rewrote the values: %v -> %v", before.Object["spec"].(map[string]any)["values"], after.Object["spec"].(map[string]any)["values"])
	}
}

// TestRatchetingAfterSchemaTightened: values stored before the schema got stricter stay
// updatable; only changing the invalid field itself has to satisfy today's schema.
func TestRatchetingAfterSchemaTightened(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	clusters := cp.Dynamic.Resource(gvr("kuberneteses")).Namespace(ns)
	seedRelease(t, "Kubernetes", ns, "legacy", map[string]any{
		"version":      "v1.35",
		"controlPlane": map[string]any{"replicas": int64(9)},
		"nodeGroups":   map[string]any{"md0": map[string]any{"minReplicas": int64(5), "maxReplicas": int64(2), "instanceType": "u1.medium", "diskSize": "20Gi"}},
		"storageClass": "replicated",
	})
	eventually(t, 10*time.Second, "seeded object served", func(ctx context.Context) (bool, error) {
		_, err := clusters.Get(ctx, "legacy", metav1.GetOptions{})
		return err == nil, err
	})
	patch := func(p string) error {
		_, err := clusters.Patch(ctx, "legacy", types.MergePatchType, []byte(p), metav1.PatchOptions{})
		return err
	}
	if err := patch(`{"spec":{"storageClass":"fast"}}`); err != nil {
		t.Errorf("updating field B with invalid fields A untouched: %v", err)
	}
	if err := patch(`{"spec":{"controlPlane":{"replicas":8}}}`); !hasCause(err, "spec.controlPlane.replicas", "less than or equal to 7") {
		t.Errorf("changing A to another invalid value: %v", err)
	}
	if err := patch(`{"spec":{"nodeGroups":{"md0":{"minReplicas":4}}}}`); !hasCause(err, "spec.nodeGroups[md0].minReplicas", "minReplicas must be less than or equal to maxReplicas") {
		t.Errorf("changing a CEL-invalid node group to another invalid value: %v", err)
	}
	if err := patch(`{"spec":{"controlPlane":{"replicas":3}}}`); err != nil {
		t.Errorf("fixing A: %v", err)
	}
	if err := patch(`{"spec":{"nodeGroups":{"md0":{"minReplicas":1}}}}`); err != nil {
		t.Errorf("fixing the CEL violation: %v", err)
	}
	if err := patch(`{"spec":{"controlPlane":{"replicas":9}}}`); err == nil {
		t.Error("a valid field could be made invalid")
	}
}

// TestTransitionRules: rules on oldSelf apply to updates, never to creates.
func TestTransitionRules(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	clusters := cp.Dynamic.Resource(gvr("kuberneteses")).Namespace(ns)
	if _, err := clusters.Create(ctx, kubernetesObject("t", map[string]any{"version": "v1.34"}), metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating at an old version: %v", err)
	}
	if _, err := clusters.Patch(ctx, "t", types.MergePatchType, []byte(`{"spec":{"version":"v1.35"}}`), metav1.PatchOptions{}); err != nil {
		t.Errorf("upgrade: %v", err)
	}
	_, err := clusters.Patch(ctx, "t", types.MergePatchType, []byte(`{"spec":{"version":"v1.34"}}`), metav1.PatchOptions{})
	if !hasCause(err, "spec.version", "version may not be downgraded") {
		t.Errorf("downgrade: %v", err)
	}
	buckets := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	mustCreate(t, buckets, targets()[0].object("b"))
	_, err = buckets.Patch(ctx, "b", types.MergePatchType, []byte(`{"spec":{"storagePool":"other"}}`), metav1.PatchOptions{})
	if !hasCause(err, "spec.storagePool", "storagePool is immutable") {
		t.Errorf("storagePool change: %v", err)
	}
}

// TestFieldValidation compares unknown-field handling with the CRD twin for every write verb:
// Strict refuses naming the field, Warn drops it with a warning, Ignore drops it silently. On
// apps.cozy.io an unknown field never reaches the HelmRelease values.
func TestFieldValidation(t *testing.T) {
	client, warnings := warningClient()
	type outcome struct {
		code    int32
		warned  bool
		stored  bool
		message string
	}
	results := map[string]map[string]outcome{}
	for _, tg := range targets() {
		ns := newTenant(t)
		c := client.Resource(tg.resource).Namespace(ns)
		ctx := context.Background()
		results[tg.name] = map[string]outcome{}
		for _, directive := range []string{metav1.FieldValidationStrict, metav1.FieldValidationWarn, metav1.FieldValidationIgnore} {
			name := strings.ToLower(directive)
			record := func(verb string, obj *unstructured.Unstructured, err error) {
				o := outcome{warned: len(warnings.take()) > 0}
				if s, ok := err.(apierrors.APIStatus); ok {
					o.code, o.message = s.Status().Code, s.Status().Message
				} else if err != nil {
					t.Fatalf("%s %s %s: %v", tg.name, verb, directive, err)
				}
				if current, err := c.Get(ctx, name, metav1.GetOptions{}); err == nil {
					_, o.stored, _ = unstructured.NestedFieldNoCopy(current.Object, "spec", "bogus")
				}
				results[tg.name][verb+"/"+directive] = o
			}
			obj := tg.object(name)
			_ = unstructured.SetNestedField(obj.Object, "x", "spec", "bogus")
			created, err := c.Create(ctx, obj, metav1.CreateOptions{FieldValidation: directive})
			record("create", created, err)
			if err != nil {
				mustCreate(t, c, tg.object(name))
			}
			current := mustGet(t, c, name)
			_ = unstructured.SetNestedField(current.Object, "y", "spec", "bogus")
			updated, err := c.Update(ctx, current, metav1.UpdateOptions{FieldValidation: directive})
			record("update", updated, err)
			patched, err := c.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"bogus":"z"}}`), metav1.PatchOptions{FieldValidation: directive})
			record("patch", patched, err)
			apply := tg.object(name)
			_ = unstructured.SetNestedField(apply.Object, "w", "spec", "bogus")
			body, _ := apply.MarshalJSON()
			force := true
			applied, err := c.Patch(ctx, name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "fv", Force: &force, FieldValidation: directive})
			record("apply", applied, err)
			if tg.virtual {
				hr, err := helmRelease(ctx, ns, "bucket-"+name)
				if err != nil {
					t.Fatal(err)
				}
				if _, found, _ := unstructured.NestedFieldNoCopy(hr.Object, "spec", "values", "bogus"); found {
					t.Errorf("%s: an undeclared field reached the HelmRelease values", directive)
				}
			}
		}
	}
	for key, crd := range results["crd"] {
		got := results["virtual"][key]
		t.Logf("%-14s apps.cozy.io code=%d warned=%v | CRD code=%d warned=%v", key, got.code, got.warned, crd.code, crd.warned)
		if strings.HasPrefix(key, "apply/") && crd.code == 500 && got.code == 400 {
			// kube-apiserver answers an apply with undeclared fields with a 500 for CRDs;
			// apps.cozy.io says 400, naming the field, as it is the client's mistake.
			continue
		}
		if got.code != crd.code || got.warned != crd.warned || got.stored != crd.stored {
			t.Errorf("%s: apps.cozy.io %+v, CRD %+v", key, got, crd)
		}
		if got.code != 0 && !strings.Contains(got.message, "bogus") {
			t.Errorf("%s: the error does not name the field: %s", key, got.message)
		}
	}
	for _, verb := range []string{"create", "update", "patch", "apply"} {
		if o := results["virtual"][verb+"/Strict"]; o.code == 0 {
			t.Errorf("%s Strict accepted an unknown field", verb)
		}
		if verb == "apply" {
			// Server-side apply cannot own a field the schema lacks, whatever the directive.
			for _, directive := range []string{"Warn", "Ignore"} {
				if o := results["virtual"][verb+"/"+directive]; o.code != 400 || o.stored {
					t.Errorf("apply %s: %+v", directive, o)
				}
			}
			continue
		}
		if o := results["virtual"][verb+"/Warn"]; o.code != 0 || !o.warned {
			t.Errorf("%s Warn: %+v", verb, o)
		}
		if o := results["virtual"][verb+"/Ignore"]; o.code != 0 || o.warned {
			t.Errorf("%s Ignore: %+v", verb, o)
		}
	}
}
