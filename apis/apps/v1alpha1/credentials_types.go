package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BucketCredentials is what a tenant needs to use a Bucket: where the object store is, the bucket's
// name there, and an access key pair per user of spec.users. It is served by the buckets/credentials
// subresource (GET), read from the Secrets COSI writes for the bucket's accesses; it is never
// stored by this server.
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type BucketCredentials struct {
	metav1.TypeMeta `json:",inline"`
	// metadata names the Bucket.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// endpoint is the S3 endpoint of the object store.
	Endpoint string `json:"endpoint"`
	// region is the S3 region, when the object store has one.
	// +optional
	Region string `json:"region,omitempty"`
	// bucketName is the bucket's name in the object store.
	BucketName string `json:"bucketName"`
	// users holds each user's credentials, by the user's name in spec.users.
	// +optional
	Users map[string]BucketUserCredentials `json:"users,omitempty"`
}

// BucketUserCredentials is one user's access key pair.
type BucketUserCredentials struct {
	// accessKeyID identifies the key.
	AccessKeyID string `json:"accessKeyID"`
	// secretAccessKey is the key's secret.
	SecretAccessKey string `json:"secretAccessKey"`
	// readonly is true when the user may only read.
	// +optional
	Readonly bool `json:"readonly,omitempty"`
}
