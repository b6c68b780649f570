package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bucket is an S3-compatible object-storage bucket with its own users. Its spec is the values
// interface of Cozystack's `bucket` chart.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type Bucket struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the bucket the tenant asks for.
	// +default={}
	// +optional
	Spec *BucketSpec `json:"spec,omitempty"`
	// status is the bucket as the platform last observed it.
	// +optional
	Status BucketStatus `json:"status,omitempty"`
}

// BucketList is a list of buckets, returned by list calls.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type BucketList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the buckets.
	Items []Bucket `json:"items"`
}

// BucketSpec describes the bucket a tenant wants.
type BucketSpec struct {
	// storagePool is the object-storage pool (bucket class) the bucket lives in; empty uses the
	// platform's default. Stricter than the chart: it cannot change once the bucket exists,
	// because a bucket cannot move between pools.
	// +default=""
	// +optional
	// +k8s:validation:maxLength=63
	// +k8s:validation:cel[0]:rule="self == oldSelf"
	// +k8s:validation:cel[0]:message="storagePool is immutable"
	StoragePool string `json:"storagePool"`

	// locking creates the bucket with S3 object locking (WORM) enabled.
	// +default=false
	// +optional
	Locking bool `json:"locking"`

	// users are the bucket's access keys, keyed by user name. Each gets its own credentials.
	// Stricter than the chart: names are DNS labels, since they become parts of object names.
	// +default={}
	// +optional
	// +k8s:validation:maxProperties=32
	// +k8s:validation:cel[0]:rule="self.all(k, k.size() <= 63 && k.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))"
	// +k8s:validation:cel[0]:message="user names must be lowercase DNS labels of at most 63 characters"
	Users map[string]BucketUser `json:"users"`
}

// BucketUser is a user of a bucket with its own access keys.
type BucketUser struct {
	// readonly lets the user only list and download objects.
	// +optional
	Readonly *bool `json:"readonly,omitempty"`
}

// BucketStatus is the bucket as the platform last observed it: Flux's release state and what COSI
// reports about the bucket and its users' access.
type BucketStatus struct {
	AppStatus `json:",inline"`

	// bucketName is the name of the bucket in the object store.
	// +optional
	BucketName string `json:"bucketName,omitempty"`
}
