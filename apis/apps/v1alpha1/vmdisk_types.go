package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VMDisk is a disk for virtual machines, created empty or from an image, a URL, another disk or an
// upload. Virtual machines refer to it by name. Its spec is the values interface of Cozystack's
// `vm-disk` chart.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type VMDisk struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the disk the tenant asks for.
	// +default={}
	// +optional
	Spec *VMDiskSpec `json:"spec,omitempty"`
	// status is the disk as the platform last observed it.
	// +optional
	Status VMDiskStatus `json:"status,omitempty"`
}

// VMDiskList is a list of disks, returned by list calls.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type VMDiskList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the disks.
	Items []VMDisk `json:"items"`
}

// VMDiskSpec describes the disk a tenant wants.
type VMDiskSpec struct {
	// source is where the disk's content comes from; empty creates a blank disk.
	// +default={}
	// +optional
	Source *VMDiskSource `json:"source,omitempty"`
	// optical attaches the disk as a CD-ROM.
	// +default=false
	// +optional
	Optical bool `json:"optical"`
	// storage is the disk's size.
	// +default="5Gi"
	// +optional
	Storage *resource.Quantity `json:"storage,omitempty"`
	// storageClass is the storage class the disk is provisioned from.
	// +default="replicated"
	// +optional
	// +k8s:validation:maxLength=253
	StorageClass *string `json:"storageClass,omitempty"`
}

// VMDiskSource is where a disk's content comes from. Stricter than the chart: at most one source,
// since the chart would use only one of them.
//
// +k8s:validation:cel[0]:rule="[has(self.disk), has(self.http), has(self.image), has(self.upload)].filter(x, x).size() <= 1"
// +k8s:validation:cel[0]:message="at most one of disk, http, image and upload may be set"
type VMDiskSource struct {
	// disk clones another VMDisk in the same namespace.
	// +optional
	Disk *NamedSource `json:"disk,omitempty"`
	// http imports the disk from a URL.
	// +optional
	HTTP *HTTPSource `json:"http,omitempty"`
	// image creates the disk from a platform golden image (e.g. `ubuntu`).
	// +optional
	Image *NamedSource `json:"image,omitempty"`
	// upload waits for the disk's content to be uploaded.
	// +optional
	Upload *UploadSource `json:"upload,omitempty"`
}

// NamedSource names the disk or image a disk is created from.
type NamedSource struct {
	// name is the source's name.
	// +required
	// +k8s:validation:minLength=1
	// +k8s:validation:maxLength=253
	Name *string `json:"name,omitempty"`
}

// HTTPSource is a URL a disk is imported from.
type HTTPSource struct {
	// url is where the image is downloaded from. Stricter than the chart: http or https.
	// +required
	// +k8s:validation:minLength=1
	// +k8s:validation:maxLength=2048
	// +k8s:validation:pattern="^https?://"
	URL *string `json:"url,omitempty"`
}

// UploadSource marks a disk whose content the tenant uploads; it has no settings.
type UploadSource struct{}

// VMDiskStatus is the disk as the platform last observed it: Flux's release state and what CDI
// reports about the disk's DataVolume.
type VMDiskStatus struct {
	AppStatus `json:",inline"`

	// phase is CDI's phase of the disk: Pending, ImportScheduled, ImportInProgress,
	// WaitForFirstConsumer, Succeeded, Failed, ...
	// +optional
	Phase string `json:"phase,omitempty"`

	// progress is how much of the disk's content has been imported, e.g. "45.5%".
	// +optional
	Progress string `json:"progress,omitempty"`
}
