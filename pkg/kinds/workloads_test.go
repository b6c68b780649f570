package kinds

import (
	"fmt"
	"os"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

func object(kind, name string, fields map[string]any) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{"kind": kind, "metadata": map[string]any{"name": name, "namespace": "t"}}}
	for k, v := range fields {
		obj.Object[k] = v
	}
	return obj
}

func TestProjections(t *testing.T) {
	cases := []struct {
		name        string
		project     func(release.Workloads) release.WorkloadState
		objects     release.Workloads
		wantReady   bool
		wantReason  string
		wantMessage string
		wantStatus  map[string]string
	}{
		{name: "disk imported", project: projectVMDisk,
			objects:   release.Workloads{CDIDataVolumes.Resource: {object("DataVolume", "vm-disk-a", map[string]any{"status": map[string]any{"phase": "Succeeded", "progress": "100.0%"}})}},
			wantReady: true, wantReason: release.ReasonWorkloadsReady, wantStatus: map[string]string{"phase": "Succeeded", "progress": "100.0%"}},
		{name: "disk failed", project: projectVMDisk,
			objects: release.Workloads{CDIDataVolumes.Resource: {object("DataVolume", "vm-disk-a", map[string]any{"status": map[string]any{"phase": "Failed",
				"conditions": []any{map[string]any{"type": "Running", "status": "False", "message": "404 Not Found"}}}})}},
			wantReason: "DataVolumeFailed", wantMessage: "DataVolume vm-disk-a: phase Failed: 404 Not Found"},
		{name: "disk missing", project: projectVMDisk, objects: release.Workloads{},
			wantReason: "DataVolumeMissing", wantMessage: "no DataVolume of this release exists"},
		{name: "machine running", project: projectVirtualMachine,
			objects: release.Workloads{
				KubeVirtMachines.Resource: {object("VirtualMachine", "vm-instance-a", map[string]any{"spec": map[string]any{"runStrategy": "Always"},
					"status": map[string]any{"printableStatus": "Running", "ready": true}})},
				KubeVirtMachineInstances.Resource: {object("VirtualMachineInstance", "vm-instance-a", map[string]any{
					"status": map[string]any{"nodeName": "n1", "interfaces": []any{map[string]any{"ipAddress": "10.0.0.5", "ipAddresses": []any{"10.0.0.5", "fd00::5"}}}}})},
			},
			wantReady: true, wantReason: release.ReasonWorkloadsReady, wantStatus: map[string]string{"printableStatus": "Running", "nodeName": "n1", "ipAddresses": "[10.0.0.5 fd00::5]"}},
		{name: "machine halted and stopped", project: projectVirtualMachine,
			objects: release.Workloads{KubeVirtMachines.Resource: {object("VirtualMachine", "vm-instance-a", map[string]any{"spec": map[string]any{"runStrategy": "Halted"},
				"status": map[string]any{"printableStatus": "Stopped"}})}},
			wantReady: true, wantReason: release.ReasonWorkloadsReady},
		{name: "machine unschedulable", project: projectVirtualMachine,
			objects: release.Workloads{KubeVirtMachines.Resource: {object("VirtualMachine", "vm-instance-a", map[string]any{"spec": map[string]any{"runStrategy": "Always"},
				"status": map[string]any{"printableStatus": "ErrorUnschedulable", "conditions": []any{map[string]any{"type": "Ready", "status": "False", "message": "0/3 nodes are available"}}}})}},
			wantReason: "VirtualMachineErrorUnschedulable", wantMessage: "VirtualMachine vm-instance-a: 0/3 nodes are available"},
		{name: "bucket without access granted", project: projectBucket,
			objects: release.Workloads{
				COSIBucketClaims.Resource:   {object("BucketClaim", "bucket-b", map[string]any{"status": map[string]any{"bucketReady": true, "bucketName": "b-123"}})},
				COSIBucketAccesses.Resource: {object("BucketAccess", "bucket-b-writer", map[string]any{"status": map[string]any{"accessGranted": false}})},
			},
			wantReason: "BucketAccessNotGranted", wantMessage: "BucketAccess bucket-b-writer: access is not granted yet", wantStatus: map[string]string{"bucketName": "b-123"}},
		{name: "cluster with a node group short of machines", project: projectKubernetes,
			objects: release.Workloads{
				CAPIClusters.Resource: {object("Cluster", "kubernetes-k", map[string]any{"status": map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}})},
				KamajiControlPlanes.Resource: {object("KamajiControlPlane", "kubernetes-k", map[string]any{"status": map[string]any{"ready": true,
					"controlPlaneEndpoint": "k.example:6443", "version": "v1.34.3"}})},
				CAPIMachineDeployments.Resource: {object("MachineDeployment", "kubernetes-k-md0", map[string]any{"spec": map[string]any{"clusterName": "kubernetes-k", "replicas": int64(3)},
					"status": map[string]any{"readyReplicas": int64(1)}})},
			},
			wantReason: "NodeGroupNotReady", wantMessage: "MachineDeployment kubernetes-k-md0: ready machines below the wanted count",
			wantStatus: map[string]string{"controlPlaneEndpoint": "k.example:6443", "kubernetesVersion": "v1.34.3", "nodeGroups": "map[md0:map[readyReplicas:1 replicas:3]]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.project(tc.objects)
			if got.Ready != tc.wantReady || got.Reason != tc.wantReason || (tc.wantMessage != "" && got.Message != tc.wantMessage) {
				t.Errorf("state = ready %v, %s: %s; want ready %v, %s: %s", got.Ready, got.Reason, got.Message, tc.wantReady, tc.wantReason, tc.wantMessage)
			}
			for field, want := range tc.wantStatus {
				// fmt prints maps with sorted keys, so the expected text is stable.
				if v := got.Status[field]; v == nil || fmt.Sprint(v) != want {
					t.Errorf("status.%s = %v, want %s", field, v, want)
				}
			}
		})
	}
}

// TestServerReadsExactlyTheProjectedWorkloadTypes ties the server's shipped RBAC to the workload
// types the kinds project: read on each, and nothing else in those groups.
func TestServerReadsExactlyTheProjectedWorkloadTypes(t *testing.T) {
	raw, err := os.ReadFile("../../artifacts/deploy/10-rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	granted := map[schema.GroupResource]bool{}
	groups := map[string]bool{}
	for _, r := range WorkloadResources() {
		groups[r.Group] = true
	}
	for _, doc := range strings.Split(string(raw), "\n---") {
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &role); err != nil || role.Kind != "ClusterRole" || role.Name != "cozy-apiserver" {
			continue
		}
		for _, rule := range role.Rules {
			for _, g := range rule.APIGroups {
				if !groups[g] {
					continue
				}
				verbs := strings.Join(rule.Verbs, ",")
				if verbs == "delete" && g == "kubevirt.io" && strings.Join(rule.Resources, ",") == "virtualmachineinstances" {
					continue // virtualmachines/restart deletes the running instance
				}
				if verbs != "get,list,watch" {
					t.Errorf("rule on %s grants %v; the server only reads workload objects", g, rule.Verbs)
				}
				for _, r := range rule.Resources {
					granted[schema.GroupResource{Group: g, Resource: r}] = true
				}
			}
		}
	}
	for _, r := range WorkloadResources() {
		if !granted[r.GroupResource()] {
			t.Errorf("the server's ClusterRole cannot read %s, which a kind projects", r.GroupResource())
		}
		delete(granted, r.GroupResource())
	}
	for gr := range granted {
		t.Errorf("the server's ClusterRole reads %s, which no kind projects", gr)
	}
}
