package kinds

import (
	"k8s.io/apimachinery/pkg/runtime"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// Bucket is stored as the "bucket" chart's release "bucket-<name>"; its spec is the chart's values
// as is.
func Bucket() *release.Kind {
	return &release.Kind{
		Kind:            "Bucket",
		Resource:        "buckets",
		Singular:        "bucket",
		ShortNames:      []string{"bkt"},
		ApplicationKind: "Bucket",
		Subresources:    []string{"credentials"},
		Layout:          release.Layout{ReleasePrefix: "bucket-", Chart: cozystackChart("cozystack-bucket-application-default-bucket")},
		New:             func() runtime.Object { return &appsv1alpha1.Bucket{} },
		NewList:         func() runtime.Object { return &appsv1alpha1.BucketList{} },
		SelectableFields: []release.SelectableField{
			{Path: "spec.storagePool", Value: func(o runtime.Object) string {
				if spec := o.(*appsv1alpha1.Bucket).Spec; spec != nil {
					return spec.StoragePool
				}
				return ""
			}},
		},
		Workloads:        []release.WorkloadSource{COSIBucketClaims, COSIBucketAccesses},
		ProjectWorkloads: projectBucket,
		PrinterColumns: []release.PrinterColumn{
			{Name: "Storage-Pool", Type: "string", JSONPath: ".spec.storagePool", Description: "Object-storage pool of the bucket"},
			{Name: "Locking", Type: "boolean", JSONPath: ".spec.locking", Description: "Whether S3 object locking is on"},
		},
	}
}
