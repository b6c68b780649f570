package workloadsim

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// The workload types the local charts create: the ones the server projects (their one home is
// pkg/kinds) and two it does not read.
var (
	VirtualMachines         = kinds.KubeVirtMachines.Resource
	VirtualMachineInstances = kinds.KubeVirtMachineInstances.Resource
	DataVolumes             = kinds.CDIDataVolumes.Resource
	BucketClaims            = kinds.COSIBucketClaims.Resource
	BucketAccesses          = kinds.COSIBucketAccesses.Resource
	Clusters                = kinds.CAPIClusters.Resource
	MachineDeployments      = kinds.CAPIMachineDeployments.Resource
	KamajiControlPlanes     = kinds.KamajiControlPlanes.Resource
	MachineHealthChecks     = schema.GroupVersionResource{Group: "cluster.x-k8s.io", Version: "v1beta1", Resource: "machinehealthchecks"}
	KubevirtClusters        = schema.GroupVersionResource{Group: "infrastructure.cluster.x-k8s.io", Version: "v1alpha1", Resource: "kubevirtclusters"}
)

func workloads() []workload {
	return []workload{
		{gvr: VirtualMachines, status: virtualMachineStatus, after: syncInstance},
		{gvr: DataVolumes, status: func(*unstructured.Unstructured) (map[string]any, bool) {
			return map[string]any{"phase": "Succeeded", "progress": "100.0%", "conditions": []any{
				condition("Ready", "True", "", ""), condition("Bound", "True", "Bound", ""), condition("Running", "False", "Completed", "Import Complete"),
			}}, true
		}},
		{gvr: BucketClaims, status: func(obj *unstructured.Unstructured) (map[string]any, bool) {
			return map[string]any{"bucketReady": true, "bucketName": "bucket-" + string(obj.GetUID())}, true
		}},
		{gvr: BucketAccesses, status: func(obj *unstructured.Unstructured) (map[string]any, bool) {
			return map[string]any{"accessGranted": true, "accountID": "ba-" + string(obj.GetUID())}, true
		}, after: writeBucketInfo},
		{gvr: KubevirtClusters, status: func(*unstructured.Unstructured) (map[string]any, bool) {
			return map[string]any{"ready": true}, true
		}},
		{gvr: KamajiControlPlanes, status: func(obj *unstructured.Unstructured) (map[string]any, bool) {
			replicas, _, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
			version, _, _ := unstructured.NestedString(obj.Object, "spec", "version")
			return map[string]any{"ready": true, "initialized": true, "version": version, "replicas": replicas, "readyReplicas": replicas,
				"controlPlaneEndpoint": obj.GetName() + "." + obj.GetNamespace() + ".svc:6443",
				"conditions":           []any{condition("Ready", "True", "", "")}}, true
		}, after: writeAdminKubeconfig},
		{gvr: Clusters, status: func(*unstructured.Unstructured) (map[string]any, bool) {
			return map[string]any{"phase": "Provisioned", "infrastructureReady": true, "controlPlaneReady": true, "conditions": []any{
				condition("Ready", "True", "", ""), condition("ControlPlaneReady", "True", "", ""), condition("InfrastructureReady", "True", "", ""),
			}}, true
		}},
		{gvr: MachineDeployments, status: func(obj *unstructured.Unstructured) (map[string]any, bool) {
			replicas, _, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
			return map[string]any{"phase": "Running", "replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
				"updatedReplicas": replicas, "observedGeneration": obj.GetGeneration(),
				"conditions": []any{condition("Ready", "True", "", ""), condition("Available", "True", "", "")}}, true
		}},
	}
}

// running tells whether KubeVirt would keep the machine running under its runStrategy.
func running(vm *unstructured.Unstructured) bool {
	strategy, _, _ := unstructured.NestedString(vm.Object, "spec", "runStrategy")
	return strategy == "Always" || strategy == "RerunOnFailure" || strategy == "Once"
}

func virtualMachineStatus(vm *unstructured.Unstructured) (map[string]any, bool) {
	if running(vm) {
		return map[string]any{"printableStatus": "Running", "ready": true, "created": true,
			"conditions": []any{condition("Ready", "True", "", "")}}, true
	}
	return map[string]any{"printableStatus": "Stopped", "ready": false, "created": false,
		"conditions": []any{condition("Ready", "False", "VMINotExists", "VMI does not exist")}}, true
}

// syncInstance creates the running machine's VirtualMachineInstance (same name, an address and a
// node) or deletes it when the machine is stopped, as KubeVirt's controller does.
func syncInstance(ctx context.Context, client dynamic.Interface, vm *unstructured.Unstructured) error {
	vmis := client.Resource(VirtualMachineInstances).Namespace(vm.GetNamespace())
	if !running(vm) {
		err := vmis.Delete(ctx, vm.GetName(), metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if _, err := vmis.Get(ctx, vm.GetName(), metav1.GetOptions{}); err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	vmi := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": VirtualMachineInstances.GroupVersion().String(), "kind": "VirtualMachineInstance",
		"metadata": map[string]any{"name": vm.GetName(), "namespace": vm.GetNamespace(),
			"ownerReferences": []any{map[string]any{"apiVersion": vm.GetAPIVersion(), "kind": vm.GetKind(), "name": vm.GetName(),
				"uid": string(vm.GetUID()), "controller": true, "blockOwnerDeletion": true}}},
		"spec": map[string]any{},
	}}
	created, err := vmis.Create(ctx, vmi, metav1.CreateOptions{FieldManager: "workload-simulator"})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	created.Object["status"] = map[string]any{"phase": "Running", "nodeName": "local-node",
		"interfaces": []any{map[string]any{"name": "default", "ipAddress": addressOf(vm), "ipAddresses": []any{addressOf(vm)}}},
		"conditions": []any{condition("Ready", "True", "", "")}}
	_, err = vmis.UpdateStatus(ctx, created, metav1.UpdateOptions{FieldManager: "workload-simulator"})
	return err
}

// addressOf gives each machine a stable made-up address.
func addressOf(vm *unstructured.Unstructured) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(vm.GetUID()))
	n := h.Sum32()
	return fmt.Sprintf("10.244.%d.%d", (n>>8)%250+1, n%250+2)
}
