package kinds

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// projectBucket reads COSI's BucketClaim (bucketReady, bucketName) and its users' BucketAccesses
// (accessGranted).
func projectBucket(objects release.Workloads) release.WorkloadState {
	v := newVerdict()
	claims := objects[COSIBucketClaims.Resource]
	if len(claims) == 0 {
		v.missing(COSIBucketClaims)
		return v.state()
	}
	for _, obj := range sortedByName(claims) {
		ready, _, _ := unstructured.NestedBool(obj.Object, "status", "bucketReady")
		if name, _, _ := unstructured.NestedString(obj.Object, "status", "bucketName"); name != "" {
			v.status["bucketName"] = name
		}
		v.ready(COSIBucketClaims, obj, ready, "BucketNotReady", "the bucket is not provisioned yet")
	}
	for _, obj := range sortedByName(objects[COSIBucketAccesses.Resource]) {
		granted, _, _ := unstructured.NestedBool(obj.Object, "status", "accessGranted")
		v.ready(COSIBucketAccesses, obj, granted, "BucketAccessNotGranted", "access is not granted yet")
	}
	return v.state()
}
