package e2e

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/cozystack/apps-apiserver/pkg/catalog"
)

// TestCatalogTypedKindLayoutFollowsItsDefinition: a change of a typed kind's definition gives the
// kind its new release layout without a restart — new releases get the new prefix, chart and
// labels, releases of the old prefix are no longer the kind's objects, the kind's watches end so
// their clients list again — while a watch on another kind stays open; a prefix another kind holds
// is refused with an Event and changes nothing; the old definition brings the old layout back.
func TestCatalogTypedKindLayoutFollowsItsDefinition(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	original := definition(t, "vm-disk")
	applyDefinition(t, original)
	awaitDefinitionEventSaying(t, "vm-disk", catalog.ReasonTypedKind, `"vm-disk-<name>"`)
	disks := cp.Dynamic.Resource(gvr("vmdisks")).Namespace(ns)
	buckets := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	before := mustCreate(t, disks, diskObject(t, "before"))

	diskWatch, err := disks.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer diskWatch.Stop()
	bucketWatch, err := buckets.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer bucketWatch.Stop()

	// A prefix another typed kind's releases have: refused, nothing changes.
	taken := withReleaseLayout(t, original, "bucket-", "team", "storage")
	if _, err := cp.ApplyDefinition(ctx, taken); err != nil {
		t.Fatal(err)
	}
	awaitDefinitionEventSaying(t, "vm-disk", catalog.ReasonInvalidDefinition, `"bucket-" would be shared`)
	if hr, err := createdRelease(t, disks, ns, "refused", "vm-disk-refused"); err != nil || hr.GetLabels()["team"] != "" {
		t.Errorf("a refused layout was used: %v, labels %v", err, hr.GetLabels())
	}

	// A new prefix and labels: taken at once.
	moved := withReleaseLayout(t, original, "disk-", "team", "storage")
	if _, err := cp.ApplyDefinition(ctx, moved); err != nil {
		t.Fatal(err)
	}
	awaitDefinitionEventSaying(t, "vm-disk", catalog.ReasonTypedKind, `"disk-<name>"`)
	eventually(t, 20*time.Second, "the object of the old prefix no longer the kind's", func(ctx context.Context) (bool, error) {
		_, err := disks.Get(ctx, "before", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	hr, err := createdRelease(t, disks, ns, "after", "disk-after")
	if err != nil {
		t.Fatalf("the release of a VMDisk created under the new layout: %v", err)
	}
	if hr.GetLabels()["team"] != "storage" {
		t.Errorf("release labels %v, want the definition's team=storage", hr.GetLabels())
	}
	if ref, _, _ := unstructured.NestedString(hr.Object, "spec", "chartRef", "name"); ref != "cozystack-vm-disk-application-kubevirt-vm-disk" {
		t.Errorf("chartRef %q", ref)
	}
	if _, err := helmRelease(ctx, ns, "vm-disk-before"); err != nil {
		t.Errorf("the release of the old prefix was touched: %v", err)
	}
	expectWatchEnds(t, diskWatch)

	// The watch on another kind was never cut.
	mustCreate(t, buckets, bucketObject("after-layout-change"))
	expectEvent(t, bucketWatch, watch.Added, "after-layout-change")
	if err := disks.Delete(ctx, "after", metav1.DeleteOptions{}); err != nil {
		t.Errorf("deleting under the new layout: %v", err)
	}

	// Without its definition the kind has its own layout again.
	deleteDefinition(t, "vm-disk")
	eventually(t, 20*time.Second, "the VMDisk's own layout back", func(ctx context.Context) (bool, error) {
		got, err := disks.Get(ctx, "before", metav1.GetOptions{})
		return err == nil && got.GetUID() == before.GetUID(), err
	})
}

// diskObject is the VMDisk example named name.
func diskObject(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	obj := loadExample(t, "vmdisk.yaml")
	obj.SetName(name)
	obj.SetNamespace("")
	return obj
}

// withReleaseLayout is a copy of a definition with another release prefix and one more label.
func withReleaseLayout(t *testing.T, def *unstructured.Unstructured, prefix, label, value string) *unstructured.Unstructured {
	t.Helper()
	out := def.DeepCopy()
	out.SetResourceVersion("")
	if err := unstructured.SetNestedField(out.Object, prefix, "spec", "release", "prefix"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(out.Object, value, "spec", "release", "labels", label); err != nil {
		t.Fatal(err)
	}
	return out
}

// createdRelease creates an object of the kind and returns the HelmRelease it was stored as.
func createdRelease(t *testing.T, objects dynamic.ResourceInterface, ns, name, releaseName string) (*unstructured.Unstructured, error) {
	t.Helper()
	if _, err := objects.Create(context.Background(), diskObject(t, name), metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	return helmRelease(context.Background(), ns, releaseName)
}
