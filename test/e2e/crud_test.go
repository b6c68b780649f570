package e2e

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/cozystack/apps-apiserver/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// TestEveryVerbEveryKind drives create, get, list, watch, update, patch and delete through the
// aggregator for each kind and checks the HelmRelease behind the object at every step.
func TestEveryVerbEveryKind(t *testing.T) {
	for _, kc := range allKinds(t) {
		t.Run(kc.kind, func(t *testing.T) {
			ctx := context.Background()
			ns := newTenant(t)
			client := cp.Dynamic.Resource(kc.resource).Namespace(ns)

			list, err := client.List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			w, err := client.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			defer w.Stop()

			created, err := client.Create(ctx, kc.example.DeepCopy(), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			name := created.GetName()
			if created.GetUID() == "" || created.GetResourceVersion() == "" || created.GetCreationTimestamp().Time.IsZero() {
				t.Fatalf("create returned incomplete metadata: %+v", created.Object["metadata"])
			}

			hr, err := helmRelease(ctx, ns, kc.prefix+name)
			if err != nil {
				t.Fatalf("HelmRelease for %s: %v", name, err)
			}
			if hr.GetUID() != created.GetUID() || hr.GetResourceVersion() != created.GetResourceVersion() {
				t.Errorf("object identity %s@%s is not its HelmRelease's %s@%s", created.GetUID(), created.GetResourceVersion(), hr.GetUID(), hr.GetResourceVersion())
			}
			if got := hr.GetLabels(); got[release.LabelApplicationKind] != kindByName(t, kc.kind).ApplicationKind || got[release.LabelApplicationName] != name {
				t.Errorf("HelmRelease ownership labels = %v", got)
			}
			values, _, _ := unstructured.NestedMap(hr.Object, "spec", "values")
			spec, _, _ := unstructured.NestedMap(created.Object, "spec")
			if !reflect.DeepEqual(values, spec) {
				t.Errorf("HelmRelease values differ from the object's spec:\nvalues: %v\nspec:   %v", values, spec)
			}
			if chart, _, _ := unstructured.NestedString(hr.Object, "spec", "chartRef", "name"); chart == "" {
				t.Errorf("HelmRelease has no chart: %v", hr.Object["spec"])
			}
			expectEvent(t, w, watch.Added, name)

			got, err := client.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get right after create: %v", err)
			}
			if got.GetResourceVersion() != created.GetResourceVersion() {
				t.Errorf("get returned resourceVersion %s, create %s", got.GetResourceVersion(), created.GetResourceVersion())
			}
			list, err = client.List(ctx, metav1.ListOptions{})
			if err != nil || len(list.Items) != 1 || list.Items[0].GetName() != name {
				t.Fatalf("list after create: %v %v", err, list)
			}

			got.SetLabels(map[string]string{"team": "blue"})
			updated, err := client.Update(ctx, got, metav1.UpdateOptions{})
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if updated.GetLabels()["team"] != "blue" || updated.GetResourceVersion() == got.GetResourceVersion() {
				t.Errorf("update did not take: labels %v rv %s", updated.GetLabels(), updated.GetResourceVersion())
			}
			expectEvent(t, w, watch.Modified, name)

			// A PUT with the resourceVersion from before the update is a conflict, never a blind write.
			if _, err := client.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
				t.Errorf("stale update: want 409 Conflict, got %v", err)
			}

			patched, err := client.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"note":"patched"}}}`), metav1.PatchOptions{})
			if err != nil {
				t.Fatalf("patch: %v", err)
			}
			if patched.GetAnnotations()["note"] != "patched" || patched.GetLabels()["team"] != "blue" {
				t.Errorf("patch result: labels %v annotations %v", patched.GetLabels(), patched.GetAnnotations())
			}
			expectEvent(t, w, watch.Modified, name)
			hr, err = helmRelease(ctx, ns, kc.prefix+name)
			if err != nil {
				t.Fatal(err)
			}
			if hr.GetLabels()[release.StoredKey("team")] != "blue" || hr.GetAnnotations()[release.StoredKey("note")] != "patched" || hr.GetLabels()[release.LabelApplicationKind] == "" {
				t.Errorf("HelmRelease metadata after patch: labels %v annotations %v", hr.GetLabels(), hr.GetAnnotations())
			}

			if err := client.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete: %v", err)
			}
			expectEvent(t, w, watch.Deleted, name)
			if _, err := client.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("get after delete: want 404, got %v", err)
			}
			if _, err := helmRelease(ctx, ns, kc.prefix+name); !apierrors.IsNotFound(err) {
				t.Errorf("HelmRelease after delete: want 404, got %v", err)
			}
		})
	}
}

// TestCreateRefusals checks the errors users get for objects that cannot be stored.
func TestCreateRefusals(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	kc := allKinds(t)[1] // VirtualMachine has the longest release prefix
	client := cp.Dynamic.Resource(kc.resource).Namespace(ns)

	t.Run("release name over Helm's limit", func(t *testing.T) {
		obj := kc.example.DeepCopy()
		obj.SetName(strings.Repeat("a", release.MaxReleaseNameLength-len(kc.prefix)+1))
		_, err := client.Create(ctx, obj, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Fatalf("want 422 Invalid, got %v", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "metadata.name") || !strings.Contains(msg, "53") {
			t.Errorf("error does not name the field and the limit: %s", msg)
		}
		obj.SetName(strings.Repeat("a", release.MaxReleaseNameLength-len(kc.prefix)))
		if _, err := client.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Errorf("the longest allowed name was refused: %v", err)
		}
	})

	t.Run("reserved label", func(t *testing.T) {
		obj := kc.example.DeepCopy()
		obj.SetName("forged")
		obj.SetLabels(map[string]string{release.LabelApplicationKind: "Bucket"})
		_, err := client.Create(ctx, obj, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.labels") {
			t.Fatalf("want 422 naming metadata.labels, got %v", err)
		}
	})

	t.Run("not a tenant namespace", func(t *testing.T) {
		if err := cp.CreateNamespace(ctx, "plain-namespace", ""); err != nil {
			t.Fatal(err)
		}
		obj := kc.example.DeepCopy()
		_, err := cp.Dynamic.Resource(kc.resource).Namespace("plain-namespace").Create(ctx, obj, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "tenant.cozy.io/name") {
			t.Fatalf("want 403 naming the tenant label, got %v", err)
		}
		if _, err := helmRelease(ctx, "plain-namespace", kc.prefix+obj.GetName()); !apierrors.IsNotFound(err) {
			t.Errorf("a HelmRelease was written for a refused object: %v", err)
		}
	})
}
