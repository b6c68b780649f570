package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
)

// Patch and apply behaviour: JSON, merge and strategic merge patches, server-side apply and the
// managedFields it records. TestSemantics* run the same steps on the apps.cozy.io kind and its
// CRD twin (see compare).

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

// TestStrategicMergePatch merges list items by their keys, as for built-in types (CRDs cannot).
func TestStrategicMergePatch(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	vms := cp.Apps.AppsV1alpha1().VirtualMachines(ns)
	vm := &appsv1alpha1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "vm"},
		Spec: &appsv1alpha1.VirtualMachineSpec{
			Disks:         []appsv1alpha1.DiskAttachment{{Name: ptr.To("a"), Bus: ptr.To("virtio")}, {Name: ptr.To("b")}},
			ExternalPorts: []int32{22},
		},
	}
	if _, err := vms.Create(ctx, vm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := vms.Patch(ctx, "vm", types.StrategicMergePatchType, []byte(`{"spec":{"disks":[{"name":"b","bus":"sata"},{"name":"c"}],"externalPorts":[443]}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	buses := map[string]string{}
	for _, d := range got.Spec.Disks {
		buses[ptr.Deref(d.Name, "")] = ptr.Deref(d.Bus, "")
	}
	if len(buses) != 3 || buses["a"] != "virtio" || buses["b"] != "sata" || buses["c"] != "" {
		t.Errorf("disks after a strategic merge patch: %v", buses)
	}
	if ports := got.Spec.ExternalPorts; len(ports) != 2 || !slices.Contains(ports, 22) || !slices.Contains(ports, 443) {
		t.Errorf("ports after a strategic merge patch: %v (want the union of 22 and 443)", ports)
	}
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

func hasManager(obj *unstructured.Unstructured, manager string) bool {
	for _, m := range obj.GetManagedFields() {
		if m.Manager == manager {
			return true
		}
	}
	return false
}

// TestSemanticsApplyWithStatusOwnsNoStatus: server-side apply of an object carrying status on the
// main resource records no ownership of status and leaves status as it was, as for a CRD with a
// status subresource.
func TestSemanticsApplyWithStatusOwnsNoStatus(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		body := `{"apiVersion":"` + tg.resource.GroupVersion().String() + `","kind":"Bucket","metadata":{"name":"applied"},` +
			`"spec":{"storagePool":"default"},"status":{"version":"9.9.9","bucketName":"forged"}}`
		got, err := c.Patch(context.Background(), "applied", types.ApplyPatchType, []byte(body), metav1.PatchOptions{FieldManager: "with-status"})
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		for _, m := range got.GetManagedFields() {
			if m.FieldsV1 != nil && strings.Contains(string(m.FieldsV1.Raw), `"f:status"`) {
				t.Errorf("%s owns status: %s", m.Manager, m.FieldsV1.Raw)
			}
		}
		if v, _, _ := unstructured.NestedString(got.Object, "status", "version"); v == "9.9.9" {
			t.Errorf("status taken from the applied object: %v", got.Object["status"])
		}
	})
}
