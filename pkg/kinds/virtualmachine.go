package kinds

import (
	"k8s.io/apimachinery/pkg/runtime"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// VirtualMachine is stored as the "vm-instance" chart's release "vm-instance-<name>"; its spec is
// the chart's values as is.
func VirtualMachine() *release.Kind {
	return &release.Kind{
		Kind:            "VirtualMachine",
		Resource:        "virtualmachines",
		Singular:        "virtualmachine",
		ShortNames:      []string{"cvm"},
		ApplicationKind: "VMInstance",
		Subresources:    []string{"start", "stop", "restart"},
		Layout:          release.Layout{ReleasePrefix: "vm-instance-", Chart: cozystackChart("cozystack-vm-instance-application-kubevirt-vm-instance")},
		New:             func() runtime.Object { return &appsv1alpha1.VirtualMachine{} },
		NewList:         func() runtime.Object { return &appsv1alpha1.VirtualMachineList{} },
		SelectableFields: []release.SelectableField{
			{Path: "spec.runStrategy", Value: func(o runtime.Object) string {
				if spec := o.(*appsv1alpha1.VirtualMachine).Spec; spec != nil {
					return deref(spec.RunStrategy)
				}
				return ""
			}},
			{Path: "spec.instanceType", Value: func(o runtime.Object) string {
				if spec := o.(*appsv1alpha1.VirtualMachine).Spec; spec != nil {
					return deref(spec.InstanceType)
				}
				return ""
			}},
		},
		Workloads:        []release.WorkloadSource{KubeVirtMachines, KubeVirtMachineInstances},
		ProjectWorkloads: projectVirtualMachine,
		PrinterColumns: []release.PrinterColumn{
			{Name: "Run-Strategy", Type: "string", JSONPath: ".spec.runStrategy", Description: "When the machine is kept running"},
			{Name: "Instance-Type", Type: "string", JSONPath: ".spec.instanceType", Description: "Instance type sizing the machine"},
			{Name: "Status", Type: "string", JSONPath: ".status.printableStatus", Description: "KubeVirt's state of the machine"},
			{Name: "IP", Type: "string", JSONPath: ".status.ipAddresses[0]", Description: "First address of the running instance"},
		},
	}
}
