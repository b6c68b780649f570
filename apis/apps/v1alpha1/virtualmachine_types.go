package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VirtualMachine is a virtual machine run for a tenant, with its system disk, extra disks and
// network attachments.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type VirtualMachine struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the virtual machine the tenant asks for.
	// +optional
	Spec VirtualMachineSpec `json:"spec,omitempty"`
	// status is the virtual machine as the platform last observed it.
	// +optional
	Status VirtualMachineStatus `json:"status,omitempty"`
}

// VirtualMachineList is a list of virtual machines, returned by list calls.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type VirtualMachineList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the virtual machines.
	Items []VirtualMachine `json:"items"`
}

// RunStrategy says when the platform keeps a virtual machine running.
//
// +enum
type RunStrategy string

// The run strategies a virtual machine can have.
const (
	// RunStrategyAlways keeps the machine running and restarts it whenever it stops.
	RunStrategyAlways RunStrategy = "Always"
	// RunStrategyHalted keeps the machine stopped.
	RunStrategyHalted RunStrategy = "Halted"
	// RunStrategyManual leaves starting and stopping to the user.
	RunStrategyManual RunStrategy = "Manual"
	// RunStrategyRerunOnFailure restarts the machine only when it fails.
	RunStrategyRerunOnFailure RunStrategy = "RerunOnFailure"
)

// VirtualMachineSpec describes the virtual machine a tenant wants.
//
// +k8s:validation:cel[0]:rule="has(self.instanceType) != has(self.resources)"
// +k8s:validation:cel[0]:message="exactly one of instanceType or resources must be set"
type VirtualMachineSpec struct {
	// runStrategy says when the platform keeps the machine running.
	// +default="Always"
	// +optional
	RunStrategy RunStrategy `json:"runStrategy,omitempty"`

	// instanceType is the instance type that sizes the machine (e.g. `u1.medium`). Set either
	// instanceType or resources.
	// +optional
	// +k8s:validation:maxLength=63
	InstanceType string `json:"instanceType,omitempty"`

	// instanceProfile is the preference profile that tunes devices for a guest OS (e.g. `ubuntu`).
	// +optional
	// +k8s:validation:maxLength=63
	InstanceProfile string `json:"instanceProfile,omitempty"`

	// resources sizes the machine explicitly instead of through an instance type.
	// +optional
	Resources *VirtualMachineResources `json:"resources,omitempty"`

	// systemDisk is the disk the machine boots from.
	// +required
	SystemDisk SystemDisk `json:"systemDisk"`

	// disks are extra disks attached to the machine, keyed by name.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +k8s:validation:maxItems=16
	// +patchMergeKey=name
	// +patchStrategy=merge
	Disks []Disk `json:"disks,omitempty" patchStrategy:"merge" patchMergeKey:"name"`

	// subnets are the tenant networks the machine is attached to, besides the default network.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchMergeKey=name
	// +patchStrategy=merge
	Subnets []Subnet `json:"subnets,omitempty" patchStrategy:"merge" patchMergeKey:"name"`

	// external publishes the machine outside the tenant network. Omit to keep it internal.
	// +optional
	External *ExternalAccess `json:"external,omitempty"`

	// gpus are GPU devices passed through to the machine.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchMergeKey=name
	// +patchStrategy=merge
	Gpus []GPU `json:"gpus,omitempty" patchStrategy:"merge" patchMergeKey:"name"`

	// sshKeys are public keys authorized to log in as the default user.
	// +optional
	// +listType=set
	// +k8s:validation:maxItems=32
	// +patchStrategy=merge
	SSHKeys []string `json:"sshKeys,omitempty" patchStrategy:"merge"`

	// cloudInit is cloud-init user data run on first boot.
	// +optional
	// +k8s:validation:maxLength=65536
	CloudInit string `json:"cloudInit,omitempty"`
}

// VirtualMachineResources sizes a machine without an instance type.
type VirtualMachineResources struct {
	// cpu is the number of virtual CPU cores.
	// +required
	CPU resource.Quantity `json:"cpu"`
	// memory is the guest memory.
	// +required
	Memory resource.Quantity `json:"memory"`
	// sockets is the number of CPU sockets the cores are spread over.
	// +default=1
	// +optional
	// +k8s:validation:minimum=1
	// +k8s:validation:maximum=16
	Sockets int32 `json:"sockets,omitempty"`
}

// SystemDisk is the disk a machine boots from, created from an image.
type SystemDisk struct {
	// image is the operating system image the disk is created from (e.g. `ubuntu`, `fedora`).
	// +required
	// +k8s:validation:minLength=1
	// +k8s:validation:maxLength=63
	// +k8s:validation:pattern="^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
	Image string `json:"image"`
	// size is the size of the disk.
	// +default="10Gi"
	// +optional
	Size resource.Quantity `json:"size,omitempty"`
	// storageClass is the storage class the disk is provisioned from.
	// +default="replicated"
	// +optional
	// +k8s:validation:maxLength=253
	StorageClass string `json:"storageClass,omitempty"`
}

// DiskBus is the bus a disk is attached through.
//
// +enum
type DiskBus string

// The disk buses a machine supports.
const (
	DiskBusVirtio DiskBus = "virtio"
	DiskBusSATA   DiskBus = "sata"
	DiskBusSCSI   DiskBus = "scsi"
)

// Disk is an extra disk attached to a virtual machine.
type Disk struct {
	// name identifies the disk within the machine.
	// +required
	// +k8s:validation:minLength=1
	// +k8s:validation:maxLength=63
	// +k8s:validation:pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
	Name string `json:"name"`
	// size is the size of the disk.
	// +required
	Size resource.Quantity `json:"size"`
	// storageClass is the storage class the disk is provisioned from.
	// +default="replicated"
	// +optional
	// +k8s:validation:maxLength=253
	StorageClass string `json:"storageClass,omitempty"`
	// bus is the bus the disk is attached through.
	// +default="virtio"
	// +optional
	Bus DiskBus `json:"bus,omitempty"`
}

// Subnet attaches a machine to a tenant network.
type Subnet struct {
	// name is the name of the tenant's virtual private network.
	// +required
	// +k8s:validation:minLength=1
	// +k8s:validation:maxLength=63
	Name string `json:"name"`
}

// ExternalMethod is how a machine is published outside the tenant network.
//
// +enum
type ExternalMethod string

// The ways a machine can be published.
const (
	// ExternalMethodPortList forwards only the listed ports to the machine.
	ExternalMethodPortList ExternalMethod = "PortList"
	// ExternalMethodWholeIP gives the machine a public address with every port open.
	ExternalMethodWholeIP ExternalMethod = "WholeIP"
)

// ExternalAccess publishes a machine outside the tenant network.
//
// +k8s:validation:cel[0]:rule="self.method != 'PortList' || size(self.ports) > 0"
// +k8s:validation:cel[0]:message="ports must list at least one port when method is PortList"
// +k8s:validation:cel[0]:fieldPath=".ports"
type ExternalAccess struct {
	// method is how the machine is published.
	// +default="PortList"
	// +optional
	Method ExternalMethod `json:"method,omitempty"`
	// ports are the TCP ports forwarded to the machine when method is PortList.
	// +optional
	// +listType=set
	// +k8s:validation:maxItems=64
	// +patchStrategy=merge
	Ports []int32 `json:"ports,omitempty" patchStrategy:"merge"`
}

// VirtualMachineStatus is the virtual machine as the platform last observed it.
type VirtualMachineStatus struct {
	AppStatus `json:",inline"`
}
