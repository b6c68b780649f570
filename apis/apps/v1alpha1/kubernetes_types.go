package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kubernetes is a managed Kubernetes cluster run for a tenant: a hosted control plane plus groups
// of worker nodes that run as virtual machines in the tenant's namespace. Its spec is the values
// interface of Cozystack's `kubernetes` chart.
//
// Conventions of every kind in this package, so an object round-trips exactly as a custom
// resource with the same schema would: spec is a pointer defaulting to {}, so an object decoded
// from nothing has no spec and field ownership records the spec a create brings; an optional field whose default is not its Go zero value
// is a pointer, so "absent" (defaulted) and an explicit zero value stay apart; a field whose
// default is its zero value (false, "", 0, [], {}) has no omitempty, so the defaulted value is
// shown as a CRD shows it; a required string is a pointer too, so "" is checked as "" rather than
// reported missing; defaults are the chart's own, declared with +default; rules stricter than
// the chart's schema say why.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type Kubernetes struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the cluster the tenant asks for.
	// +default={}
	// +optional
	Spec *KubernetesSpec `json:"spec,omitempty"`
	// status is the cluster as the platform last observed it.
	// +optional
	Status KubernetesStatus `json:"status,omitempty"`
}

// KubernetesList is a list of Kubernetes clusters, returned by list calls.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type KubernetesList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the clusters.
	Items []Kubernetes `json:"items"`
}

// KubernetesVersion is a Kubernetes minor version the chart can run as a tenant cluster.
//
// +enum
type KubernetesVersion string

// The Kubernetes minors the chart supports for tenant clusters.
const (
	KubernetesV131 KubernetesVersion = "v1.31"
	KubernetesV132 KubernetesVersion = "v1.32"
	KubernetesV133 KubernetesVersion = "v1.33"
	KubernetesV134 KubernetesVersion = "v1.34"
	KubernetesV135 KubernetesVersion = "v1.35"
)

// KubernetesSpec describes the cluster a tenant wants.
//
// +k8s:validation:cel[0]:rule="!has(oldSelf.version) || !has(self.version) || self.version >= oldSelf.version"
// +k8s:validation:cel[0]:message="version may not be downgraded"
// +k8s:validation:cel[0]:fieldPath=".version"
type KubernetesSpec struct {
	// version is the Kubernetes minor version of the control plane and nodes. Stricter than the
	// chart: it is never lowered, because Kubernetes does not support downgrading a cluster.
	// +default="v1.35"
	// +optional
	Version *KubernetesVersion `json:"version,omitempty"`

	// storageClass is the storage class of the tenant namespace that backs the cluster's
	// persistent volumes.
	// +default="replicated"
	// +optional
	// +k8s:validation:maxLength=253
	StorageClass *string `json:"storageClass,omitempty"`

	// host is the external DNS name under which the cluster's API and ingress are published.
	// Empty means a name derived from the tenant's domain. Stricter than the chart: a DNS name.
	// +default=""
	// +optional
	// +k8s:validation:maxLength=253
	// +k8s:validation:pattern="^$|^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
	Host string `json:"host"`

	// nodeGroups are the groups of worker nodes, keyed by group name. Each group scales between
	// its minReplicas and maxReplicas. Stricter than the chart: names are DNS labels, since they
	// become parts of machine names.
	// +default={}
	// +optional
	// +k8s:validation:maxProperties=32
	// +k8s:validation:cel[0]:rule="self.all(k, k.size() <= 32 && k.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))"
	// +k8s:validation:cel[0]:message="node group names must be lowercase DNS labels of at most 32 characters"
	NodeGroups map[string]NodeGroup `json:"nodeGroups"`

	// addons are optional components installed into the cluster.
	// +default={}
	// +optional
	Addons *KubernetesAddons `json:"addons,omitempty"`

	// controlPlane sizes the hosted control plane.
	// +default={}
	// +optional
	ControlPlane *ControlPlane `json:"controlPlane,omitempty"`

	// images overrides the images of the chart's helper jobs; empty keeps the platform's.
	// +default={}
	// +optional
	Images *KubernetesImages `json:"images,omitempty"`

	// talos configures the Talos Linux images the nodes boot.
	// +default={}
	// +optional
	Talos *Talos `json:"talos,omitempty"`

	// nodeHealthCheck says when an unhealthy node is replaced.
	// +default={}
	// +optional
	NodeHealthCheck *NodeHealthCheck `json:"nodeHealthCheck,omitempty"`

	// maxNodeProvisionTime is how long a new node may take to join before it is replaced.
	// +default="30m"
	// +optional
	MaxNodeProvisionTime *string `json:"maxNodeProvisionTime,omitempty"`

	// oidc configures how users log in to the cluster's API.
	// +default={}
	// +optional
	OIDC *OIDC `json:"oidc,omitempty"`
}

// NodeGroup is a group of identical worker nodes that the cluster autoscaler scales. Every field
// the chart requires has the chart's default, so a new group is complete as soon as it is named.
//
// +k8s:validation:cel[0]:rule="!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas"
// +k8s:validation:cel[0]:message="minReplicas must be less than or equal to maxReplicas"
// +k8s:validation:cel[0]:fieldPath=".minReplicas"
type NodeGroup struct {
	// minReplicas is the least number of nodes the autoscaler keeps. Stricter than the chart: at
	// most maxReplicas, or the autoscaler cannot satisfy both.
	// +default=0
	// +optional
	// +k8s:validation:minimum=0
	// +k8s:validation:maximum=1000
	MinReplicas int32 `json:"minReplicas"`

	// maxReplicas is the largest number of nodes the autoscaler may create.
	// +default=10
	// +optional
	// +k8s:validation:minimum=0
	// +k8s:validation:maximum=1000
	MaxReplicas *int32 `json:"maxReplicas,omitempty"`

	// instanceType is the virtual machine instance type of each node (e.g. `u1.medium`).
	// +default="u1.medium"
	// +optional
	// +k8s:validation:maxLength=63
	InstanceType *string `json:"instanceType,omitempty"`

	// diskSize is the size of each node's root disk.
	// +default="20Gi"
	// +optional
	DiskSize *resource.Quantity `json:"diskSize,omitempty"`

	// storageClass is the storage class of the nodes' disks; empty uses the cluster's.
	// +optional
	// +k8s:validation:maxLength=253
	StorageClass *string `json:"storageClass,omitempty"`

	// roles are extra roles the nodes take, e.g. `ingress-nginx` to run the cluster's ingress.
	// The chart declares no default; none and [] mean the same to it, and [] is kept as given.
	// +default=[]
	// +optional
	// +listType=set
	Roles []string `json:"roles"`

	// resources overrides the instance type's CPU and memory.
	// +optional
	Resources *Resources `json:"resources,omitempty"`

	// gpus are GPU devices passed through to each node. The chart declares no default; none and
	// [] mean the same to it, and [] is kept as given.
	// +default=[]
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchMergeKey=name
	// +patchStrategy=merge
	Gpus []GPU `json:"gpus" patchStrategy:"merge" patchMergeKey:"name"`

	// kubelet tunes the nodes' kubelet reservations and eviction thresholds.
	// +optional
	Kubelet *Kubelet `json:"kubelet,omitempty"`

	// logSerialConsole streams the nodes' serial console to the platform's logs.
	// +default=false
	// +optional
	LogSerialConsole bool `json:"logSerialConsole"`

	// maxUnhealthy overrides the cluster's nodeHealthCheck.maxUnhealthy for this group.
	// +optional
	MaxUnhealthy *string `json:"maxUnhealthy,omitempty"`

	// nodeStartupTimeout overrides the cluster's nodeHealthCheck.nodeStartupTimeout for this group.
	// +optional
	NodeStartupTimeout *string `json:"nodeStartupTimeout,omitempty"`

	// podCpuLimit is the CPU limit of the node's system pods.
	// +optional
	PodCpuLimit *resource.Quantity `json:"podCpuLimit,omitempty"`

	// podCpuRequest is the CPU request of the node's system pods.
	// +optional
	PodCpuRequest *resource.Quantity `json:"podCpuRequest,omitempty"`
}

// Kubelet tunes a node group's kubelet.
type Kubelet struct {
	// evictionHardMemory is the memory.available threshold below which pods are evicted at once.
	// +default="7%"
	// +optional
	EvictionHardMemory *string `json:"evictionHardMemory,omitempty"`
	// evictionSoftMemory is the memory.available threshold below which pods are evicted after a
	// grace period.
	// +default="10%"
	// +optional
	EvictionSoftMemory *string `json:"evictionSoftMemory,omitempty"`
	// kubeReservedCpu is the CPU reserved for Kubernetes daemons.
	// +optional
	KubeReservedCpu *string `json:"kubeReservedCpu,omitempty"`
	// kubeReservedMemory is the memory reserved for Kubernetes daemons.
	// +optional
	KubeReservedMemory *string `json:"kubeReservedMemory,omitempty"`
	// systemReservedCpu is the CPU reserved for the operating system.
	// +optional
	SystemReservedCpu *string `json:"systemReservedCpu,omitempty"`
	// systemReservedMemory is the memory reserved for the operating system.
	// +optional
	SystemReservedMemory *string `json:"systemReservedMemory,omitempty"`
}

// Resources are explicit CPU and memory, overriding an instance type or a preset.
type Resources struct {
	// cpu is the number of virtual CPUs.
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// memory is the amount of memory.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// KubernetesStatus is the cluster as the platform last observed it: Flux's release state and what
// Cluster API and Kamaji report about the cluster's objects.
type KubernetesStatus struct {
	AppStatus `json:",inline"`

	// controlPlaneEndpoint is where the cluster's API server is reached, as its control plane
	// (Kamaji) reports it.
	// +optional
	ControlPlaneEndpoint string `json:"controlPlaneEndpoint,omitempty"`

	// kubernetesVersion is the Kubernetes version the control plane runs.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`

	// nodeGroups reports each node group's machines, by the node group's name in spec.nodeGroups.
	// +optional
	NodeGroups map[string]NodeGroupStatus `json:"nodeGroups,omitempty"`
}

// NodeGroupStatus counts a node group's machines (its Cluster API MachineDeployment).
type NodeGroupStatus struct {
	// replicas is the number of machines the node group wants now.
	Replicas int32 `json:"replicas"`
	// readyReplicas is the number of those machines that are ready.
	ReadyReplicas int32 `json:"readyReplicas"`
}
