package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// target is an API the semantics suite runs against: the apps.cozy.io Bucket and its CRD twin
// served by kube-apiserver. Every comparison test runs the same steps and assertions on both.
type target struct {
	name     string
	resource schema.GroupVersionResource
	virtual  bool
}

func targets() []target {
	return []target{
		{name: "virtual", resource: gvr("buckets"), virtual: true},
		{name: "crd", resource: schema.GroupVersionResource{Group: twinGroup, Version: "v1alpha1", Resource: "buckets"}},
	}
}

// object is a valid Bucket of the target's group.
func (tg target) object(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": tg.resource.GroupVersion().String(), "kind": "Bucket",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"storagePool": "default", "locking": false},
	}}
}

// compare runs fn against every target, each in a fresh tenant namespace.
func compare(t *testing.T, fn func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string)) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			ns := newTenant(t)
			fn(t, tg, cp.Dynamic.Resource(tg.resource).Namespace(ns), ns)
		})
	}
}

func mustCreate(t *testing.T, c dynamic.ResourceInterface, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	created, err := c.Create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s: %v", obj.GetName(), err)
	}
	return created
}

func mustGet(t *testing.T, c dynamic.ResourceInterface, name string) *unstructured.Unstructured {
	t.Helper()
	got, err := c.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return got
}

func TestSemanticsOptimisticConcurrency(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		mustCreate(t, c, tg.object("b"))
		read := mustGet(t, c, "b")
		first := read.DeepCopy()
		first.SetLabels(map[string]string{"v": "1"})
		if _, err := c.Update(ctx, first, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("fresh update: %v", err)
		}
		stale := read.DeepCopy()
		stale.SetLabels(map[string]string{"v": "2"})
		if _, err := c.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			t.Errorf("update with a stale resourceVersion: want 409, got %v", err)
		}
		unconditional := mustGet(t, c, "b")
		unconditional.SetResourceVersion("")
		if _, err := c.Update(ctx, unconditional, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("update without resourceVersion: want 422, got %v", err)
		}
		if got := mustGet(t, c, "b"); got.GetLabels()["v"] != "1" {
			t.Errorf("a refused update changed the object: %v", got.GetLabels())
		}
		// A patch carries no resourceVersion unless the client puts one in: it applies to the latest.
		if _, err := c.Patch(ctx, "b", types.MergePatchType, []byte(`{"metadata":{"labels":{"v":"3"}}}`), metav1.PatchOptions{}); err != nil {
			t.Errorf("patch: %v", err)
		}
		if _, err := c.Patch(ctx, "b", types.MergePatchType, []byte(`{"metadata":{"resourceVersion":"`+read.GetResourceVersion()+`","labels":{"v":"4"}}}`), metav1.PatchOptions{}); !apierrors.IsConflict(err) {
			t.Errorf("patch with a stale resourceVersion: want 409, got %v", err)
		}
		staleRV := read.GetResourceVersion()
		if err := c.Delete(ctx, "b", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &staleRV}}); !apierrors.IsConflict(err) {
			t.Errorf("delete with a stale resourceVersion precondition: want 409, got %v", err)
		}
		current := mustGet(t, c, "b")
		currentRV, currentUID := current.GetResourceVersion(), current.GetUID()
		if err := c.Delete(ctx, "b", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &currentRV, UID: &currentUID}}); err != nil {
			t.Errorf("delete with current preconditions: %v", err)
		}
	})
}

func TestSemanticsDryRun(t *testing.T) {
	dryRun := []string{metav1.DryRunAll}
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		got, err := c.Create(ctx, tg.object("ghost"), metav1.CreateOptions{DryRun: dryRun})
		if err != nil || got.GetName() != "ghost" {
			t.Fatalf("dry-run create: %v %v", err, got)
		}
		if got.GetGeneration() != 1 {
			t.Errorf("dry-run create returned generation %d, want 1", got.GetGeneration())
		}
		if got, err := c.Apply(ctx, "ghost2", tg.object("ghost2"), metav1.ApplyOptions{FieldManager: "dry", DryRun: dryRun}); err != nil || got.GetGeneration() != 1 {
			t.Errorf("dry-run apply that creates: %v, generation %d, want 1", err, got.GetGeneration())
		}
		if _, err := c.Get(ctx, "ghost", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("dry-run create persisted: %v", err)
		}

		real := mustCreate(t, c, tg.object("real"))
		before := real.GetResourceVersion()
		changed := real.DeepCopy()
		changed.SetLabels(map[string]string{"dry": "run"})
		if got, err := c.Update(ctx, changed, metav1.UpdateOptions{DryRun: dryRun}); err != nil || got.GetLabels()["dry"] != "run" {
			t.Errorf("dry-run update: %v %v", err, got)
		}
		if got, err := c.Patch(ctx, "real", types.MergePatchType, []byte(`{"metadata":{"labels":{"dry":"patch"}}}`), metav1.PatchOptions{DryRun: dryRun}); err != nil || got.GetLabels()["dry"] != "patch" {
			t.Errorf("dry-run patch: %v %v", err, got)
		}
		if got, err := c.Patch(ctx, "real", types.MergePatchType, []byte(`{"spec":{"locking":true}}`), metav1.PatchOptions{DryRun: dryRun}); err != nil || got.GetGeneration() != real.GetGeneration()+1 {
			t.Errorf("dry-run spec patch: %v, generation %d, want %d", err, got.GetGeneration(), real.GetGeneration()+1)
		}
		apply := tg.object("real")
		apply.SetLabels(map[string]string{"dry": "apply"})
		if got, err := c.Apply(ctx, "real", apply, metav1.ApplyOptions{FieldManager: "dry", DryRun: dryRun, Force: true}); err != nil || got.GetLabels()["dry"] != "apply" {
			t.Errorf("dry-run apply: %v %v", err, got)
		}
		if err := c.Delete(ctx, "real", metav1.DeleteOptions{DryRun: dryRun}); err != nil {
			t.Errorf("dry-run delete: %v", err)
		}
		if err := c.DeleteCollection(ctx, metav1.DeleteOptions{DryRun: dryRun}, metav1.ListOptions{}); err != nil {
			t.Errorf("dry-run deletecollection: %v", err)
		}
		after := mustGet(t, c, "real")
		if after.GetResourceVersion() != before || len(after.GetLabels()) != 0 {
			t.Errorf("dry-run requests changed the object: rv %s -> %s, labels %v", before, after.GetResourceVersion(), after.GetLabels())
		}
		if tg.virtual {
			hr, err := helmRelease(ctx, ns, "bucket-real")
			if err != nil || hr.GetResourceVersion() != before {
				t.Errorf("dry-run requests wrote the HelmRelease: %v", err)
			}
		}
	})
}

func TestSemanticsGenerateNameAndDeleteCollection(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		names := map[string]bool{}
		for _, app := range []string{"x", "x", "x", "y"} {
			obj := tg.object("")
			obj.SetGenerateName("gen-")
			obj.SetLabels(map[string]string{"app": app})
			created := mustCreate(t, c, obj)
			if names[created.GetName()] || len(created.GetName()) != len("gen-")+5 {
				t.Errorf("generated name %q", created.GetName())
			}
			if created.GetGenerateName() != "gen-" || mustGet(t, c, created.GetName()).GetGenerateName() != "gen-" {
				t.Errorf("generateName is not stored and returned: %q", created.GetGenerateName())
			}
			names[created.GetName()] = true
		}
		if err := c.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=x"}); err != nil {
			t.Fatalf("deletecollection: %v", err)
		}
		list, err := c.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.Items[0].GetLabels()["app"] != "y" {
			t.Errorf("after deleting app=x: %d items", len(list.Items))
		}
	})
}

func TestSemanticsGeneration(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		if g := mustCreate(t, c, tg.object("g")).GetGeneration(); g != 1 {
			t.Errorf("generation after create = %d", g)
		}
		labelled, err := c.Patch(ctx, "g", types.MergePatchType, []byte(`{"metadata":{"labels":{"a":"b"}}}`), metav1.PatchOptions{})
		if err != nil || labelled.GetGeneration() != 1 {
			t.Errorf("a metadata change moved generation: %v %d", err, labelled.GetGeneration())
		}
		specced, err := c.Patch(ctx, "g", types.MergePatchType, []byte(`{"spec":{"locking":true}}`), metav1.PatchOptions{})
		if err != nil || specced.GetGeneration() != 2 {
			t.Errorf("a spec change did not move generation to 2: %v %d", err, specced.GetGeneration())
		}
	})
}

func TestSemanticsMetadataAndFinalizers(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		obj := tg.object("m")
		obj.SetLabels(map[string]string{"team": "a", "example.com/tier": "gold"})
		obj.SetAnnotations(map[string]string{"note": "hello", "example.com/owner": "alice"})
		obj.SetFinalizers([]string{"example.com/hold"})
		obj.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "0b5e1c59-5f4c-4cf4-9d55-111111111111"}})
		mustCreate(t, c, obj)
		got := mustGet(t, c, "m")
		for what, pair := range map[string][2]any{
			"labels":          {got.GetLabels(), obj.GetLabels()},
			"annotations":     {got.GetAnnotations(), obj.GetAnnotations()},
			"finalizers":      {got.GetFinalizers(), obj.GetFinalizers()},
			"ownerReferences": {got.GetOwnerReferences(), obj.GetOwnerReferences()},
		} {
			if !equalJSON(pair[0], pair[1]) {
				t.Errorf("%s did not round-trip: got %v, want %v", what, pair[0], pair[1])
			}
		}

		if err := c.Delete(ctx, "m", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		held := mustGet(t, c, "m")
		if held.GetDeletionTimestamp() == nil || !slices.Equal(held.GetFinalizers(), []string{"example.com/hold"}) {
			t.Errorf("a finalizer must keep the object visible with a deletionTimestamp: %v %v", held.GetDeletionTimestamp(), held.GetFinalizers())
		}
		if _, err := c.Patch(ctx, "m", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("removing the finalizer: %v", err)
		}
		eventually(t, 10*time.Second, "object gone after its finalizer is removed", func(ctx context.Context) (bool, error) {
			_, err := c.Get(ctx, "m", metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
	})
}

func TestSemanticsServerSideApply(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		mine := tg.object("s")
		mine.SetLabels(map[string]string{"owner": "alice"})
		created, err := c.Apply(ctx, "s", mine, metav1.ApplyOptions{FieldManager: "alice"})
		if err != nil {
			t.Fatalf("apply creating the object: %v", err)
		}
		if !hasManager(created, "alice") {
			t.Errorf("managedFields after apply: %v", created.GetManagedFields())
		}
		if !hasManager(mustGet(t, c, "s"), "alice") {
			t.Error("managedFields were not persisted")
		}

		theirs := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": tg.resource.GroupVersion().String(), "kind": "Bucket",
			"metadata": map[string]any{"name": "s"},
			"spec":     map[string]any{"locking": true},
		}}
		if _, err := c.Apply(ctx, "s", theirs, metav1.ApplyOptions{FieldManager: "bob"}); !apierrors.IsConflict(err) {
			t.Errorf("bob applying alice's field: want 409, got %v", err)
		}
		forced, err := c.Apply(ctx, "s", theirs, metav1.ApplyOptions{FieldManager: "bob", Force: true})
		if err != nil {
			t.Fatalf("forced apply: %v", err)
		}
		if locking, _, _ := unstructured.NestedBool(forced.Object, "spec", "locking"); !locking {
			t.Errorf("forced apply: locking %v", locking)
		}
		got := mustGet(t, c, "s")
		if !hasManager(got, "alice") || !hasManager(got, "bob") || got.GetLabels()["owner"] != "alice" {
			t.Errorf("after the forced apply: managers %v labels %v", got.GetManagedFields(), got.GetLabels())
		}

		// Alice re-applies without the label: she owned it alone, so it goes.
		mine.SetLabels(nil)
		unstructured.RemoveNestedField(mine.Object, "spec", "locking")
		if _, err := c.Apply(ctx, "s", mine, metav1.ApplyOptions{FieldManager: "alice"}); err != nil {
			t.Fatalf("re-apply: %v", err)
		}
		if got := mustGet(t, c, "s"); len(got.GetLabels()) != 0 {
			t.Errorf("a label only alice owned survived her apply without it: %v", got.GetLabels())
		}
	})
}

func TestSemanticsPatchTypes(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		mustCreate(t, c, tg.object("p"))
		got, err := c.Patch(ctx, "p", types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/locking","value":true},{"op":"add","path":"/metadata/labels","value":{"k":"v"}}]`), metav1.PatchOptions{})
		if err != nil {
			t.Fatalf("JSON patch: %v", err)
		}
		if locking, _, _ := unstructured.NestedBool(got.Object, "spec", "locking"); !locking || got.GetLabels()["k"] != "v" {
			t.Errorf("JSON patch result: %v", got.Object)
		}
		if _, err := c.Patch(ctx, "p", types.JSONPatchType, []byte(`[{"op":"test","path":"/spec/locking","value":false}]`), metav1.PatchOptions{}); err == nil || apierrors.IsInternalError(err) {
			t.Errorf("a failing JSON patch test op: want a client error, got %v", err)
		}
		got, err = c.Patch(ctx, "p", types.MergePatchType, []byte(`{"spec":{"locking":false}}`), metav1.PatchOptions{})
		if locking, found, _ := unstructured.NestedBool(got.Object, "spec", "locking"); err != nil || !found || locking {
			t.Errorf("merge patch: %v locking=%v found=%v", err, locking, found)
		}
	})
}

func hasManager(obj *unstructured.Unstructured, manager string) bool {
	for _, m := range obj.GetManagedFields() {
		if m.Manager == manager {
			return true
		}
	}
	return false
}

// TestSemanticsImmediateDeleteAnswersStatus: an object that goes away at once is answered with a
// Success status naming it, not with the object.
func TestSemanticsImmediateDeleteAnswersStatus(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		created := mustCreate(t, c, tg.object("gone"))
		path := "/apis/" + tg.resource.GroupVersion().String() + "/namespaces/" + ns + "/" + tg.resource.Resource + "/gone"
		for _, dryRun := range []bool{true, false} {
			req := cp.Kube.Discovery().RESTClient().Delete().AbsPath(path)
			if dryRun {
				req = req.Param("dryRun", "All")
			}
			raw, err := req.DoRaw(ctx)
			if err != nil {
				t.Fatalf("delete (dry run %v): %v", dryRun, err)
			}
			var status metav1.Status
			if err := json.Unmarshal(raw, &status); err != nil || status.Kind != "Status" || status.Status != metav1.StatusSuccess ||
				status.Details == nil || status.Details.Name != "gone" || status.Details.UID != created.GetUID() || status.Details.Kind != tg.resource.Resource {
				t.Errorf("delete (dry run %v) answered %s", dryRun, raw)
			}
		}
	})
}

// TestSemanticsStatusSubresource: /status serves the object as a CRD's status subresource does,
// and status sent through the main resource is ignored. Writing /status is refused here (405):
// status is what the platform observed, a deliberate difference from a CRD (README).
func TestSemanticsStatusSubresource(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		obj := tg.object("s")
		obj.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Forged", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}}}
		created := mustCreate(t, c, obj)
		if _, found, _ := unstructured.NestedSlice(created.Object, "status", "conditions"); found {
			t.Errorf("status sent through the main resource was stored: %v", created.Object["status"])
		}
		got, err := c.Get(ctx, "s", metav1.GetOptions{}, "status")
		if err != nil || got.GetName() != "s" || got.GetUID() != created.GetUID() {
			t.Fatalf("GET /status: %v %v", err, got)
		}
		_, err = c.UpdateStatus(ctx, got, metav1.UpdateOptions{})
		switch {
		case tg.virtual && !apierrors.IsMethodNotSupported(err):
			t.Errorf("PUT /status: want 405, got %v", err)
		case !tg.virtual && err != nil:
			t.Errorf("PUT /status on the CRD: %v", err)
		}
	})
}

// TestSemanticsManagedFieldsOfCreate: a create records the same field ownership as for a CRD,
// including for a body without spec fields and for defaulted fields.
func TestSemanticsManagedFieldsOfCreate(t *testing.T) {
	fieldSets := map[string][]string{}
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		bare := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": tg.resource.GroupVersion().String(), "kind": "Bucket", "metadata": map[string]any{"name": "bare"},
		}}
		for _, obj := range []*unstructured.Unstructured{bare, tg.object("full")} {
			created, err := c.Create(context.Background(), obj, metav1.CreateOptions{FieldManager: "creator"})
			if err != nil {
				t.Fatal(err)
			}
			var sets []string
			for _, m := range created.GetManagedFields() {
				sets = append(sets, m.Manager+" "+string(m.Operation)+" "+string(m.FieldsV1.Raw))
			}
			fieldSets[obj.GetName()+"/"+tg.name] = sets
		}
	})
	for _, name := range []string{"bare", "full"} {
		if got, want := fieldSets[name+"/virtual"], fieldSets[name+"/crd"]; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("managedFields of %s:\n  here %v\n  CRD  %v", name, got, want)
		}
	}
}
