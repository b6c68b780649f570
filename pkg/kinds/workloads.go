package kinds

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// The workload types Cozystack's charts create, whose state the kinds' statuses show. KubeVirt's
// and CDI's objects are decoded with their projects' Go API types; Cluster API's, Kamaji's and
// COSI's few fields are read by path (their Go modules would bring controller-runtime along).
// Exported for what else acts on them: the subresources and the local workload simulator.
var (
	KubeVirtMachines         = release.WorkloadSource{Resource: schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}, Kind: "VirtualMachine"}
	KubeVirtMachineInstances = release.WorkloadSource{Resource: schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachineinstances"}, Kind: "VirtualMachineInstance"}
	CDIDataVolumes           = release.WorkloadSource{Resource: schema.GroupVersionResource{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "datavolumes"}, Kind: "DataVolume"}
	COSIBucketClaims         = release.WorkloadSource{Resource: schema.GroupVersionResource{Group: "objectstorage.k8s.io", Version: "v1alpha1", Resource: "bucketclaims"}, Kind: "BucketClaim"}
	COSIBucketAccesses       = release.WorkloadSource{Resource: schema.GroupVersionResource{Group: "objectstorage.k8s.io", Version: "v1alpha1", Resource: "bucketaccesses"}, Kind: "BucketAccess"}
	CAPIClusters             = release.WorkloadSource{Resource: schema.GroupVersionResource{Group: "cluster.x-k8s.io", Version: "v1beta1", Resource: "clusters"}, Kind: "Cluster"}
	CAPIMachineDeployments   = release.WorkloadSource{Resource: schema.GroupVersionResource{Group: "cluster.x-k8s.io", Version: "v1beta1", Resource: "machinedeployments"}, Kind: "MachineDeployment"}
	KamajiControlPlanes      = release.WorkloadSource{Resource: schema.GroupVersionResource{Group: "controlplane.cluster.x-k8s.io", Version: "v1alpha1", Resource: "kamajicontrolplanes"}, Kind: "KamajiControlPlane"}
)

// WorkloadResources lists every workload type any kind projects, for RBAC and the projector.
func WorkloadResources() []schema.GroupVersionResource {
	seen := map[schema.GroupVersionResource]bool{}
	var out []schema.GroupVersionResource
	for _, k := range All() {
		for _, w := range k.Workloads {
			if !seen[w.Resource] {
				seen[w.Resource] = true
				out = append(out, w.Resource)
			}
		}
	}
	return out
}

// verdict collects the readiness of a release's workload objects: the first object that is not
// ready names the reason and message.
type verdict struct {
	checked  int
	notReady *release.WorkloadState
	status   map[string]any
}

func newVerdict() *verdict { return &verdict{status: map[string]any{}} }

// ready records one object's readiness; reason and message say why it is not.
func (v *verdict) ready(w release.WorkloadSource, obj *unstructured.Unstructured, ok bool, reason, message string) {
	v.checked++
	if ok || v.notReady != nil {
		return
	}
	if reason == "" {
		reason = w.Kind + "NotReady"
	}
	if message == "" {
		message = "not ready yet"
	}
	v.notReady = &release.WorkloadState{Reason: reason, Message: fmt.Sprintf("%s %s: %s", w.Kind, obj.GetName(), message)}
}

// missing records a workload object the chart creates that does not exist.
func (v *verdict) missing(w release.WorkloadSource) {
	if v.notReady == nil {
		v.notReady = &release.WorkloadState{Reason: w.Kind + "Missing", Message: fmt.Sprintf("no %s of this release exists", w.Kind)}
	}
}

func (v *verdict) state() release.WorkloadState {
	if v.notReady != nil {
		v.notReady.Status = v.status
		return *v.notReady
	}
	return release.WorkloadState{Ready: true, Reason: release.ReasonWorkloadsReady,
		Message: fmt.Sprintf("%d workload object(s) ready", v.checked), Status: v.status}
}

// sortedByName orders objects so the first not-ready one is always the same.
func sortedByName(objects []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := append([]*unstructured.Unstructured(nil), objects...)
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// decode converts a workload object into its project's Go type.
func decode(obj *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, into)
}

// conditionOf returns a condition's status, reason and message from status.conditions.
func conditionOf(obj *unstructured.Unstructured, typ string) (status, reason, message string) {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			status, _ = m["status"].(string)
			reason, _ = m["reason"].(string)
			message, _ = m["message"].(string)
		}
	}
	return status, reason, message
}
