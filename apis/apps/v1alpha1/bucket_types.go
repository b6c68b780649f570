package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bucket is an S3-compatible object-storage bucket with its own users.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type Bucket struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the bucket the tenant asks for.
	// +optional
	Spec BucketSpec `json:"spec,omitempty"`
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
//
// +k8s:validation:cel[0]:rule="!has(self.locking) || self.versioning"
// +k8s:validation:cel[0]:message="locking requires versioning"
// +k8s:validation:cel[0]:fieldPath=".locking"
type BucketSpec struct {
	// storagePool is the object-storage pool (storage class) the bucket lives in. It cannot be
	// changed once the bucket exists.
	// +default="default"
	// +optional
	// +k8s:validation:maxLength=63
	// +k8s:validation:cel[0]:rule="self == oldSelf"
	// +k8s:validation:cel[0]:message="storagePool is immutable"
	StoragePool string `json:"storagePool,omitempty"`

	// versioning keeps every version of every object.
	// +default=false
	// +optional
	Versioning bool `json:"versioning"`

	// locking makes objects immutable for a retention period (WORM). Needs versioning.
	// +optional
	Locking *ObjectLock `json:"locking,omitempty"`

	// quota caps the total size of the bucket's objects. Omit for no cap.
	// +optional
	Quota *resource.Quantity `json:"quota,omitempty"`

	// users are the bucket's access keys, keyed by user name. Each gets its own credentials.
	// +optional
	// +k8s:validation:maxProperties=32
	// +k8s:validation:cel[0]:rule="self.all(k, k.size() <= 63 && k.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))"
	// +k8s:validation:cel[0]:message="user names must be lowercase DNS labels of at most 63 characters"
	Users map[string]BucketUser `json:"users,omitempty"`
}

// LockMode is how strictly locked objects are protected.
//
// +enum
type LockMode string

// The object lock modes S3 defines.
const (
	// LockModeGovernance lets privileged users lift the lock.
	LockModeGovernance LockMode = "Governance"
	// LockModeCompliance lets nobody lift the lock until retention ends.
	LockModeCompliance LockMode = "Compliance"
)

// ObjectLock is the default retention applied to new objects.
type ObjectLock struct {
	// mode is how strictly objects are protected.
	// +default="Governance"
	// +optional
	Mode LockMode `json:"mode,omitempty"`
	// retentionDays is how long new objects stay locked.
	// +required
	// +k8s:validation:minimum=1
	// +k8s:validation:maximum=36500
	RetentionDays int32 `json:"retentionDays"`
}

// BucketAccess is what a bucket user may do.
//
// +enum
type BucketAccess string

// The access levels a bucket user can have.
const (
	// BucketAccessRead can list and download objects.
	BucketAccessRead BucketAccess = "read"
	// BucketAccessReadWrite can also upload and delete objects.
	BucketAccessReadWrite BucketAccess = "readwrite"
)

// BucketUser is a user of a bucket with its own access keys.
type BucketUser struct {
	// access is what the user may do.
	// +default="readwrite"
	// +optional
	Access BucketAccess `json:"access,omitempty"`
}

// BucketStatus is the bucket as the platform last observed it.
type BucketStatus struct {
	AppStatus `json:",inline"`
}
