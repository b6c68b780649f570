package kinds

import (
	"k8s.io/apimachinery/pkg/runtime"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// VMDisk is stored as the "vm-disk" chart's release "vm-disk-<name>"; its spec is the chart's
// values as is.
func VMDisk() *release.Kind {
	return &release.Kind{
		Kind:            "VMDisk",
		Resource:        "vmdisks",
		Singular:        "vmdisk",
		ShortNames:      []string{"vmd"},
		ApplicationKind: "VMDisk",
		Layout:          release.Layout{ReleasePrefix: "vm-disk-", Chart: cozystackChart("cozystack-vm-disk-application-kubevirt-vm-disk")},
		New:             func() runtime.Object { return &appsv1alpha1.VMDisk{} },
		NewList:         func() runtime.Object { return &appsv1alpha1.VMDiskList{} },
		SelectableFields: []release.SelectableField{
			{Path: "spec.storageClass", Value: func(o runtime.Object) string {
				if spec := o.(*appsv1alpha1.VMDisk).Spec; spec != nil {
					return deref(spec.StorageClass)
				}
				return ""
			}},
		},
		Workloads:        []release.WorkloadSource{CDIDataVolumes},
		ProjectWorkloads: projectVMDisk,
		PrinterColumns: []release.PrinterColumn{
			{Name: "Storage", Type: "string", JSONPath: ".spec.storage", Description: "Size of the disk"},
			{Name: "Storage-Class", Type: "string", JSONPath: ".spec.storageClass", Description: "Storage class of the disk"},
			{Name: "Phase", Type: "string", JSONPath: ".status.phase", Description: "CDI's phase of the disk"},
		},
	}
}
