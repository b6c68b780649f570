package workloadstatus

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

var dataVolumes = kinds.CDIDataVolumes.Resource

func dataVolume(name, releaseName, phase string) *unstructured.Unstructured {
	dv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
		"metadata": map[string]any{"name": name, "namespace": "t", "resourceVersion": "1",
			"annotations": map[string]any{release.HelmAnnotationReleaseName: releaseName, release.HelmAnnotationReleaseNamespace: "t"}},
	}}
	if phase != "" {
		dv.Object["status"] = map[string]any{"phase": phase}
	}
	return dv
}

// workloadState waits until the release's recorded state satisfies cond.
func workloadState(t *testing.T, dyn *dynamicfake.FakeDynamicClient, what string, cond func(*release.WorkloadState) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		obj, err := dyn.Tracker().Get(release.HelmReleaseGVR, "t", "vm-disk-a")
		if err != nil {
			t.Fatal(err)
		}
		state, err := release.ReadWorkloadState(obj.(*unstructured.Unstructured))
		if err == nil && cond(state) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: recorded state %+v (%v)", what, state, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProjectorRecordsWorkloadStateOnTheRelease(t *testing.T) {
	hr := kinds.VMDisk().NewRelease("t", "a")
	hr.SetLabels(map[string]string{release.LabelApplicationKind: kinds.VMDisk().ApplicationKind})
	hr.SetResourceVersion("1")
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		release.HelmReleaseGVR: "HelmReleaseList", dataVolumes: "DataVolumeList",
		{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}: "VirtualMachineList",
	}, hr, dataVolume("vm-disk-a", "vm-disk-a", "ImportInProgress"), dataVolume("vm-disk-other", "vm-disk-other", "Failed"))
	var patches atomic.Int32
	dyn.PrependReactor("patch", "helmreleases", func(clienttesting.Action) (bool, runtime.Object, error) {
		patches.Add(1)
		return false, nil, nil
	})
	disc := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	// CDI is installed, KubeVirt is not: only served types are watched.
	disc.Resources = []*metav1.APIResourceList{{GroupVersion: "cdi.kubevirt.io/v1beta1", APIResources: []metav1.APIResource{{Name: "datavolumes"}}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go New(kinds.All(), dyn, disc).Run(ctx, 1)

	workloadState(t, dyn, "importing", func(s *release.WorkloadState) bool {
		return s != nil && !s.Ready && s.Reason == "DataVolumeNotReady" && s.Status["phase"] == "ImportInProgress" && s.Since != ""
	})
	// The fake keeps resourceVersions as given: move it as kube-apiserver would, so the projector's
	// conditional write applies to the current revision.
	succeeded := dataVolume("vm-disk-a", "vm-disk-a", "Succeeded")
	succeeded.SetResourceVersion("2")
	if err := dyn.Tracker().Update(dataVolumes, succeeded, "t"); err != nil {
		t.Fatal(err)
	}
	workloadState(t, dyn, "imported", func(s *release.WorkloadState) bool { return s != nil && s.Ready && s.Status["phase"] == "Succeeded" })
	before := patches.Load()
	// A relist (the same objects again) changes nothing and writes nothing.
	if err := dyn.Tracker().Update(dataVolumes, succeeded.DeepCopy(), "t"); err != nil {
		t.Fatal(err)
	}
	if err := dyn.Tracker().Delete(dataVolumes, "t", "vm-disk-a"); err != nil {
		t.Fatal(err)
	}
	workloadState(t, dyn, "disk gone", func(s *release.WorkloadState) bool { return s == nil })
	if got := patches.Load() - before; got != 1 {
		t.Errorf("writes after an unchanged update and a deletion: want 1 (the removal), got %d", got)
	}
	// The other release's DataVolume does not belong to any release the server has: nothing written.
	if _, err := dyn.Tracker().Get(release.HelmReleaseGVR, "t", "vm-disk-other"); err == nil {
		t.Error("a release appeared for a workload object")
	}
}

func TestReleaseKeys(t *testing.T) {
	vmi := &unstructured.Unstructured{}
	vmi.SetNamespace("t")
	vmi.SetName("vm-instance-a")
	if keys, _ := releaseKeys(vmi); len(keys) != 1 || keys[0] != "t/vm-instance-a" {
		t.Errorf("an object without Helm's annotations belongs to the release of its name: %v", keys)
	}
	foreign := dataVolume("x", "vm-disk-a", "")
	foreign.SetAnnotations(map[string]string{release.HelmAnnotationReleaseName: "vm-disk-a", release.HelmAnnotationReleaseNamespace: "elsewhere"})
	if keys, _ := releaseKeys(foreign); len(keys) != 0 {
		t.Errorf("an object claiming a release in another namespace: %v", keys)
	}
}
