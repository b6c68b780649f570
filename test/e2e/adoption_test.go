package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/cozystack/apps-apiserver/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// TestAdoptReleasesOfCozystackAPI: releases cozystack-api wrote (its labels and prefixes, the
// object's labels stored with its key prefix, values as given without defaults, possibly invalid
// by today's schema) are served as the matching kinds without being rewritten; reading changes
// nothing; an update keeps them installable by the same chart and in the layout cozystack-api
// reads; an unchanged invalid value ratchets; watch and delete work.
func TestAdoptReleasesOfCozystackAPI(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	// The VM has a port 0, which today's schema refuses.
	seedRelease(t, "VirtualMachine", ns, "legacy", map[string]any{"runStrategy": "Halted", "externalPorts": []any{int64(22), int64(0)}})
	hrs := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(ns)
	seeded, err := hrs.Get(ctx, "vm-instance-legacy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seeded.SetLabels(map[string]string{
		release.LabelApplicationKind: "VMInstance", release.LabelApplicationGroup: "apps.cozystack.io", release.LabelApplicationName: "legacy",
		release.ShardingLabel: "tenants", "apps.cozystack.io-team": "red",
	})
	seeded.SetAnnotations(map[string]string{"apps.cozystack.io-note": "from the old API"})
	seeded, err = hrs.Update(ctx, seeded, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	vms := cp.Dynamic.Resource(gvr("virtualmachines")).Namespace(ns)
	var got *unstructured.Unstructured
	eventually(t, 5*time.Second, "the release is served as a VirtualMachine", func(ctx context.Context) (bool, error) {
		list, err := vms.List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != 1 {
			return false, err
		}
		got = &list.Items[0]
		return true, nil
	})
	if got.GetName() != "legacy" || got.GetLabels()["team"] != "red" || got.GetAnnotations()["note"] != "from the old API" || got.GetUID() != seeded.GetUID() {
		t.Errorf("adopted object: name %s labels %v annotations %v", got.GetName(), got.GetLabels(), got.GetAnnotations())
	}
	if strategy, _, _ := unstructured.NestedString(got.Object, "spec", "runStrategy"); strategy != "Halted" {
		t.Errorf("spec.runStrategy = %q", strategy)
	}
	if profile, _, _ := unstructured.NestedString(got.Object, "spec", "instanceProfile"); profile != "ubuntu" {
		t.Errorf("defaults are applied on read: instanceProfile = %q", profile)
	}
	if after, _ := hrs.Get(ctx, "vm-instance-legacy", metav1.GetOptions{}); after.GetResourceVersion() != seeded.GetResourceVersion() {
		t.Errorf("reading rewrote the release: %s -> %s", seeded.GetResourceVersion(), after.GetResourceVersion())
	}

	w, err := vms.Watch(ctx, metav1.ListOptions{ResourceVersion: got.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The invalid port is unchanged, so the update is accepted (ratcheting).
	patched, err := vms.Patch(ctx, "legacy", types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"blue"}},"spec":{"runStrategy":"Always"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("update of the adopted object: %v", err)
	}
	expectEvent(t, w, watch.Modified, "legacy")
	hr, err := hrs.Get(ctx, "vm-instance-legacy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	labels := hr.GetLabels()
	if labels["apps.cozystack.io-team"] != "blue" || labels[release.LabelApplicationKind] != "VMInstance" || labels[release.LabelApplicationName] != "legacy" ||
		labels[release.ShardingLabel] != "tenants" || hr.GetAnnotations()["apps.cozystack.io-note"] != "from the old API" {
		t.Errorf("release metadata after the update: labels %v annotations %v", labels, hr.GetAnnotations())
	}
	for path, want := range map[string]any{"chartRef.kind": "ExternalArtifact", "chartRef.name": "cozystack-vm-instance-application-kubevirt-vm-instance", "values.runStrategy": "Always"} {
		if v, _, _ := unstructured.NestedFieldNoCopy(hr.Object, append([]string{"spec"}, splitPath(path)...)...); v != want {
			t.Errorf("release spec.%s = %v, want %v", path, v, want)
		}
	}
	if ports, _, _ := unstructured.NestedSlice(hr.Object, "spec", "values", "externalPorts"); len(ports) != 2 {
		t.Errorf("the unchanged ports were rewritten: %v", ports)
	}
	if patched.GetGeneration() != 2 {
		t.Errorf("generation after a spec change = %d", patched.GetGeneration())
	}
	if err := vms.Delete(ctx, "legacy", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, w, watch.Deleted, "legacy")
}
