package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VirtualMachine is a virtual machine run for a tenant. Its disks are VMDisks referred to by name.
// Its spec is the values interface of Cozystack's `vm-instance` chart.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type VirtualMachine struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the virtual machine the tenant asks for.
	// +default={}
	// +optional
	Spec *VirtualMachineSpec `json:"spec,omitempty"`
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

// The run strategies a virtual machine can have (KubeVirt's).
const (
	// RunStrategyAlways keeps the machine running and restarts it whenever it stops.
	RunStrategyAlways RunStrategy = "Always"
	// RunStrategyHalted keeps the machine stopped.
	RunStrategyHalted RunStrategy = "Halted"
	// RunStrategyManual leaves starting and stopping to the user.
	RunStrategyManual RunStrategy = "Manual"
	// RunStrategyRerunOnFailure restarts the machine only when it fails.
	RunStrategyRerunOnFailure RunStrategy = "RerunOnFailure"
	// RunStrategyOnce runs the machine until it stops, once.
	RunStrategyOnce RunStrategy = "Once"
)

// ExternalMethod is how a machine is published outside the tenant network.
//
// +enum
type ExternalMethod string

// The ways a machine can be published.
const (
	// ExternalMethodPortList forwards only the listed ports.
	ExternalMethodPortList ExternalMethod = "PortList"
	// ExternalMethodWholeIP gives the machine a public address of its own.
	ExternalMethodWholeIP ExternalMethod = "WholeIP"
)

// VirtualMachineSpec describes the virtual machine a tenant wants.
type VirtualMachineSpec struct {
	// runStrategy says when the machine runs.
	// +default="Always"
	// +optional
	RunStrategy *RunStrategy `json:"runStrategy,omitempty"`

	// instanceType is the KubeVirt instance type that sizes the machine (e.g. `u1.medium`);
	// resources override it.
	// +default="u1.medium"
	// +optional
	// +k8s:validation:maxLength=63
	InstanceType *string `json:"instanceType,omitempty"`

	// instanceProfile is the KubeVirt preference (OS profile) of the machine (e.g. `ubuntu`).
	// +default="ubuntu"
	// +optional
	// +k8s:validation:maxLength=63
	InstanceProfile *string `json:"instanceProfile,omitempty"`

	// disks are the VMDisks attached to the machine, by name, the first one booting it.
	// +default=[]
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchMergeKey=name
	// +patchStrategy=merge
	Disks []DiskAttachment `json:"disks" patchStrategy:"merge" patchMergeKey:"name"`

	// subnets are the tenant's virtual private networks the machine is attached to.
	// +default=[]
	// +optional
	// +listType=atomic
	Subnets []NetworkRef `json:"subnets"`

	// networks are further networks the machine is attached to.
	// +default=[]
	// +optional
	// +listType=atomic
	Networks []NetworkRef `json:"networks"`

	// gpus are GPU devices passed through to the machine.
	// +default=[]
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchMergeKey=name
	// +patchStrategy=merge
	Gpus []GPU `json:"gpus" patchStrategy:"merge" patchMergeKey:"name"`

	// resources are explicit CPU, memory and sockets; they override the instance type.
	// +default={}
	// +optional
	Resources *VMResources `json:"resources,omitempty"`

	// cpuModel is the CPU model presented to the machine; empty uses the platform's.
	// +default=""
	// +optional
	CPUModel string `json:"cpuModel"`

	// external publishes the machine outside the tenant network.
	// +default=false
	// +optional
	External bool `json:"external"`

	// externalMethod is how the machine is published when external is true.
	// +default="PortList"
	// +optional
	ExternalMethod *ExternalMethod `json:"externalMethod,omitempty"`

	// externalPorts are the ports forwarded when externalMethod is PortList. An empty list
	// forwards none.
	// +default=[22]
	// +optional
	// +listType=set
	// +patchStrategy=merge
	// +k8s:validation:maxItems=256
	// +k8s:validation:cel[0]:rule="self.all(p, p >= 1 && p <= 65535)"
	// +k8s:validation:cel[0]:message="ports must be between 1 and 65535"
	ExternalPorts []int32 `json:"externalPorts" patchStrategy:"merge"`

	// externalAllowICMP lets ICMP (ping) reach the machine when it is external.
	// +default=true
	// +optional
	ExternalAllowICMP *bool `json:"externalAllowICMP,omitempty"`

	// sshKeys are public keys authorized to log in to the machine.
	// +default=[]
	// +optional
	// +listType=atomic
	SSHKeys []string `json:"sshKeys"`

	// cloudInit is the cloud-init user data the machine boots with.
	// +default=""
	// +optional
	CloudInit string `json:"cloudInit"`

	// cloudInitSeed changes the machine's cloud-init instance ID, so cloud-init runs again.
	// +default=""
	// +optional
	CloudInitSeed string `json:"cloudInitSeed"`
}

// DiskAttachment attaches a VMDisk to a machine.
type DiskAttachment struct {
	// name is the VMDisk's name in the same namespace.
	// +required
	// +k8s:validation:minLength=1
	// +k8s:validation:maxLength=253
	Name *string `json:"name,omitempty"`
	// bus is the bus the disk is attached through (e.g. `virtio`, `sata`); empty lets KubeVirt choose.
	// +optional
	Bus *string `json:"bus,omitempty"`
}

// NetworkRef names a network a machine is attached to.
type NetworkRef struct {
	// name is the network's name.
	// +optional
	// +k8s:validation:maxLength=253
	Name *string `json:"name,omitempty"`
}

// VMResources are explicit CPU, memory and sockets of a machine.
type VMResources struct {
	// cpu is the number of virtual CPUs.
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// memory is the amount of memory.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
	// sockets is the number of CPU sockets the CPUs are spread over.
	// +optional
	Sockets *resource.Quantity `json:"sockets,omitempty"`
}

// VirtualMachineStatus is the virtual machine as the platform last observed it: Flux's release
// state and what KubeVirt reports about the machine and its running instance.
type VirtualMachineStatus struct {
	AppStatus `json:",inline"`

	// printableStatus is KubeVirt's one-word state of the machine: Running, Stopped, Starting,
	// Provisioning, ErrorUnschedulable, CrashLoopBackOff, ...
	// +optional
	PrintableStatus string `json:"printableStatus,omitempty"`

	// ipAddresses are the addresses of the running instance's interfaces.
	// +optional
	// +listType=atomic
	IPAddresses []string `json:"ipAddresses,omitempty"`

	// nodeName is the node the running instance is scheduled on.
	// +optional
	NodeName string `json:"nodeName,omitempty"`
}
