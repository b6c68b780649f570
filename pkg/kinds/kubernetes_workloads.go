package kinds

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// projectKubernetes reads Cluster API's Cluster (Ready), Kamaji's control plane (ready, endpoint,
// version) and each node group's MachineDeployment (ready against wanted replicas).
func projectKubernetes(objects release.Workloads) release.WorkloadState {
	v := newVerdict()
	for _, source := range []release.WorkloadSource{CAPIClusters, KamajiControlPlanes} {
		if len(objects[source.Resource]) == 0 {
			v.missing(source)
		}
	}
	for _, obj := range sortedByName(objects[CAPIClusters.Resource]) {
		status, reason, message := conditionOf(obj, "Ready")
		if reason == "" {
			reason = "ClusterNotReady"
		}
		v.ready(CAPIClusters, obj, status == "True", reason, message)
	}
	for _, obj := range sortedByName(objects[KamajiControlPlanes.Resource]) {
		ready, _, _ := unstructured.NestedBool(obj.Object, "status", "ready")
		if endpoint, _, _ := unstructured.NestedString(obj.Object, "status", "controlPlaneEndpoint"); endpoint != "" {
			v.status["controlPlaneEndpoint"] = endpoint
		}
		if version, _, _ := unstructured.NestedString(obj.Object, "status", "version"); version != "" {
			v.status["kubernetesVersion"] = version
		}
		v.ready(KamajiControlPlanes, obj, ready, "ControlPlaneNotReady", "the control plane is not ready yet")
	}
	groups := map[string]any{}
	for _, obj := range sortedByName(objects[CAPIMachineDeployments.Resource]) {
		wanted, _, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
		ready, _, _ := unstructured.NestedInt64(obj.Object, "status", "readyReplicas")
		// The chart names a node group's MachineDeployment "<release>-<group>".
		cluster, _, _ := unstructured.NestedString(obj.Object, "spec", "clusterName")
		group := strings.TrimPrefix(obj.GetName(), cluster+"-")
		groups[group] = map[string]any{"replicas": wanted, "readyReplicas": ready}
		v.ready(CAPIMachineDeployments, obj, ready >= wanted, "NodeGroupNotReady", "ready machines below the wanted count")
	}
	if len(groups) > 0 {
		v.status["nodeGroups"] = groups
	}
	return v.state()
}
