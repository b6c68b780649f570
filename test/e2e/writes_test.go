package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cozystack/apps-apiserver/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// Write behaviour: optimistic concurrency, dry-run, generateName, deletecollection, generation,
// metadata and finalizers, delete answers, the read-only status, and what only a virtual kind has
// to get right: the HelmRelease's foreign fields and Flux's status writes survive every write.
// TestSemantics* run the same steps on the apps.cozy.io kind and its CRD twin (see compare).

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

// TestUpdatesKeepForeignReleaseFields sets what Flux and other tools put on a HelmRelease, then
// updates the object every way a client can, and checks nothing foreign was lost.
func TestUpdatesKeepForeignReleaseFields(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	buckets := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	mustCreate(t, buckets, targets()[0].object("keep"))

	hrs := releases(ns)
	hr := hrs.get(t, "bucket-keep")
	hr.SetFinalizers(append(hr.GetFinalizers(), release.FluxFinalizer))
	labels := hr.GetLabels()
	labels["sharding.fluxcd.io/key"] = "shard-2"
	hr.SetLabels(labels)
	hr.SetAnnotations(map[string]string{"reconcile.fluxcd.io/requestedAt": "now"})
	_ = unstructured.SetNestedField(hr.Object, true, "spec", "suspend")
	_ = unstructured.SetNestedField(hr.Object, int64(7), "spec", "install", "remediation", "retries")
	hrs.update(t, hr)

	obj := mustGet(t, buckets, "keep")
	if _, ok := obj.GetLabels()["sharding.fluxcd.io/key"]; ok || len(obj.GetAnnotations()) != 0 || len(obj.GetFinalizers()) != 0 {
		t.Errorf("Flux's keys are visible to the user: labels %v annotations %v finalizers %v", obj.GetLabels(), obj.GetAnnotations(), obj.GetFinalizers())
	}
	obj.SetLabels(map[string]string{"team": "red"})
	_ = unstructured.SetNestedField(obj.Object, true, "spec", "locking")
	if _, err := buckets.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}
	if _, err := buckets.Patch(ctx, "keep", types.MergePatchType, []byte(`{"metadata":{"annotations":{"note":"x"}},"spec":{"users":{"extra":{}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch: %v", err)
	}
	if _, err := buckets.Apply(ctx, "keep", targets()[0].object("keep"), metav1.ApplyOptions{FieldManager: "ci", Force: true}); err != nil {
		t.Fatalf("apply: %v", err)
	}

	hr = hrs.get(t, "bucket-keep")
	if !slices.Contains(hr.GetFinalizers(), release.FluxFinalizer) {
		t.Errorf("Flux's finalizer was dropped: %v", hr.GetFinalizers())
	}
	if hr.GetLabels()["sharding.fluxcd.io/key"] != "shard-2" || hr.GetLabels()[release.StoredKey("team")] != "red" || hr.GetLabels()[release.LabelApplicationKind] != "Bucket" {
		t.Errorf("HelmRelease labels: %v", hr.GetLabels())
	}
	if hr.GetAnnotations()["reconcile.fluxcd.io/requestedAt"] != "now" || hr.GetAnnotations()[release.StoredKey("note")] != "x" {
		t.Errorf("HelmRelease annotations: %v", hr.GetAnnotations())
	}
	if suspend, _, _ := unstructured.NestedBool(hr.Object, "spec", "suspend"); !suspend {
		t.Error("spec.suspend was dropped")
	}
	if retries, _, _ := unstructured.NestedInt64(hr.Object, "spec", "install", "remediation", "retries"); retries != 7 {
		t.Error("spec.install.remediation.retries was dropped")
	}
	if locking, found, _ := unstructured.NestedBool(hr.Object, "spec", "values", "locking"); !found || locking {
		t.Errorf("values.locking = %v (found %v) after the final apply", locking, found)
	}

	forged := mustGet(t, buckets, "keep")
	forged.SetLabels(map[string]string{"sharding.fluxcd.io/key": "shard-1"})
	if _, err := buckets.Update(ctx, forged, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("setting Flux's sharding label: want 422, got %v", err)
	}
	forged = mustGet(t, buckets, "keep")
	forged.SetFinalizers([]string{release.FluxFinalizer})
	if _, err := buckets.Update(ctx, forged, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("setting Flux's finalizer: want 422, got %v", err)
	}

	// Deleting waits for Flux: the object stays, marked for deletion, until Flux lets go.
	if err := buckets.Delete(ctx, "keep", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, buckets, "keep"); got.GetDeletionTimestamp() == nil {
		t.Error("object being uninstalled has no deletionTimestamp")
	}
	hr = hrs.get(t, "bucket-keep")
	hr.SetFinalizers(nil)
	hrs.update(t, hr)
	eventually(t, 10*time.Second, "object gone once Flux removed its finalizer", func(ctx context.Context) (bool, error) {
		_, err := buckets.Get(ctx, "keep", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}

// TestFluxStatusWritesDoNotFailPatches writes HelmRelease status continuously, as Flux does while
// reconciling, and checks that client patches and a delete (which carry no resourceVersion) all
// succeed.
func TestFluxStatusWritesDoNotFailPatches(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := newTenant(t)
	buckets := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	mustCreate(t, buckets, targets()[0].object("busy"))

	var wg sync.WaitGroup
	var statusWrites int
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(ns)
		for i := 0; ctx.Err() == nil; i++ {
			hr, err := client.Get(ctx, "bucket-busy", metav1.GetOptions{})
			if err != nil {
				continue
			}
			_ = unstructured.SetNestedField(hr.Object, fmt.Sprint("attempt-", i), "status", "lastAttemptedRevision")
			if _, err := client.UpdateStatus(ctx, hr, metav1.UpdateOptions{}); err == nil {
				statusWrites++
			}
		}
	}()
	for i := 0; i < 50; i++ {
		if _, err := buckets.Patch(ctx, "busy", types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"labels":{"i":"%d"}}}`, i)), metav1.PatchOptions{}); err != nil {
			t.Fatalf("patch %d during Flux status writes: %v", i, err)
		}
	}
	if got := mustGet(t, buckets, "busy"); got.GetLabels()["i"] != "49" {
		t.Errorf("last patch lost: %v", got.GetLabels())
	}
	if err := buckets.Delete(ctx, "busy", metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete during Flux status writes: %v", err)
	}
	cancel()
	wg.Wait()
	if statusWrites < 10 {
		t.Fatalf("only %d status writes happened: the test did not race", statusWrites)
	}
}
