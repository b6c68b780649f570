package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Kubernetes is a managed Kubernetes cluster run for a tenant: a hosted control plane plus groups
// of worker nodes that run as virtual machines in the tenant's namespace.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type Kubernetes struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the cluster the tenant asks for.
	// +optional
	Spec KubernetesSpec `json:"spec,omitempty"`
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

// KubernetesVersion is a Kubernetes minor version the platform can run as a tenant cluster.
//
// +enum
type KubernetesVersion string

// The Kubernetes minors the platform supports for tenant clusters.
const (
	KubernetesV134 KubernetesVersion = "v1.34"
	KubernetesV135 KubernetesVersion = "v1.35"
	KubernetesV136 KubernetesVersion = "v1.36"
	KubernetesV137 KubernetesVersion = "v1.37"
)

// KubernetesSpec describes the cluster a tenant wants.
//
// +k8s:validation:cel[0]:rule="!has(oldSelf.version) || !has(self.version) || self.version >= oldSelf.version"
// +k8s:validation:cel[0]:message="version may not be downgraded"
// +k8s:validation:cel[0]:fieldPath=".version"
type KubernetesSpec struct {
	// version is the Kubernetes minor version of the control plane and nodes. It may be raised
	// one minor at a time and never lowered.
	// +default="v1.36"
	// +optional
	Version KubernetesVersion `json:"version,omitempty"`

	// controlPlane sizes the hosted control plane.
	// +optional
	ControlPlane ControlPlane `json:"controlPlane,omitempty"`

	// nodeGroups are the groups of worker nodes, keyed by group name. Each group scales between its
	// minReplicas and maxReplicas.
	// +optional
	// +k8s:validation:maxProperties=32
	// +k8s:validation:cel[0]:rule="self.all(k, k.size() <= 32 && k.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))"
	// +k8s:validation:cel[0]:message="node group names must be lowercase DNS labels of at most 32 characters"
	NodeGroups map[string]NodeGroup `json:"nodeGroups,omitempty"`

	// addons are optional components installed into the cluster.
	// +optional
	Addons KubernetesAddons `json:"addons,omitempty"`

	// storageClass is the storage class of the tenant namespace that backs the cluster's
	// persistent volumes.
	// +default="replicated"
	// +optional
	// +k8s:validation:maxLength=253
	StorageClass string `json:"storageClass,omitempty"`

	// host is the external DNS name under which the cluster's API and ingress are published.
	// Empty means a name derived from the tenant's domain.
	// +optional
	// +k8s:validation:maxLength=253
	// +k8s:validation:pattern="^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
	Host string `json:"host,omitempty"`
}

// ControlPlane sizes the hosted control plane of a tenant cluster.
type ControlPlane struct {
	// replicas is the number of API server replicas; use an odd number above 1 for high availability.
	// +default=2
	// +optional
	// +k8s:validation:minimum=1
	// +k8s:validation:maximum=7
	Replicas int32 `json:"replicas,omitempty"`
}

// NodeRole is a role a node group's nodes take in the cluster.
//
// +enum
type NodeRole string

// The node roles the platform knows how to configure.
const (
	NodeRoleIngressNginx NodeRole = "ingress-nginx"
)

// NodeGroup is a group of identical worker nodes that the cluster autoscaler scales.
//
// +k8s:validation:cel[0]:rule="self.minReplicas <= self.maxReplicas"
// +k8s:validation:cel[0]:message="minReplicas must be less than or equal to maxReplicas"
// +k8s:validation:cel[0]:fieldPath=".minReplicas"
type NodeGroup struct {
	// minReplicas is the least number of nodes the autoscaler keeps.
	// +default=0
	// +optional
	// +k8s:validation:minimum=0
	// +k8s:validation:maximum=100
	MinReplicas int32 `json:"minReplicas"`

	// maxReplicas is the largest number of nodes the autoscaler may create.
	// +default=10
	// +optional
	// +k8s:validation:minimum=1
	// +k8s:validation:maximum=100
	MaxReplicas int32 `json:"maxReplicas,omitempty"`

	// instanceType is the virtual machine instance type of each node (e.g. `u1.medium`).
	// +default="u1.medium"
	// +optional
	// +k8s:validation:maxLength=63
	InstanceType string `json:"instanceType,omitempty"`

	// ephemeralStorage is the size of each node's root disk.
	// +default="20Gi"
	// +optional
	EphemeralStorage resource.Quantity `json:"ephemeralStorage,omitempty"`

	// roles are extra roles the nodes take, e.g. `ingress-nginx` to run the cluster's ingress.
	// +optional
	// +listType=set
	Roles []NodeRole `json:"roles,omitempty"`

	// resources overrides the instance type's CPU and memory.
	// +optional
	Resources *NodeResources `json:"resources,omitempty"`

	// gpus are GPU devices passed through to each node.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchMergeKey=name
	// +patchStrategy=merge
	Gpus []GPU `json:"gpus,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
}

// NodeResources overrides the CPU and memory an instance type gives a node.
type NodeResources struct {
	// cpu is the number of virtual CPUs of each node.
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// memory is the memory of each node.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// KubernetesAddons are the optional components the platform can install into a tenant cluster.
type KubernetesAddons struct {
	// certManager installs cert-manager for certificate issuing.
	// +optional
	CertManager Addon `json:"certManager,omitempty"`
	// ingressNginx installs the NGINX ingress controller.
	// +optional
	IngressNginx IngressAddon `json:"ingressNginx,omitempty"`
	// monitoringAgents installs the agents that ship metrics and logs to the tenant's monitoring.
	// +optional
	MonitoringAgents Addon `json:"monitoringAgents,omitempty"`
	// gpuOperator installs the NVIDIA GPU operator for node groups with GPUs.
	// +optional
	GPUOperator Addon `json:"gpuOperator,omitempty"`
	// fluxcd installs Flux so the tenant can run GitOps inside the cluster.
	// +optional
	Fluxcd Addon `json:"fluxcd,omitempty"`
	// verticalPodAutoscaler installs the vertical pod autoscaler.
	// +optional
	VerticalPodAutoscaler Addon `json:"verticalPodAutoscaler,omitempty"`
}

// IngressExposeMethod is how the cluster's ingress controller is reached from outside.
//
// +enum
type IngressExposeMethod string

// The ways an ingress controller can be exposed.
const (
	// IngressExposeProxied routes traffic through the tenant's platform ingress.
	IngressExposeProxied IngressExposeMethod = "Proxied"
	// IngressExposeLoadBalancer gives the ingress controller its own load-balancer address.
	IngressExposeLoadBalancer IngressExposeMethod = "LoadBalancer"
)

// IngressAddon is the ingress controller addon, which also needs to know how it is exposed.
type IngressAddon struct {
	// enabled installs the ingress controller when true.
	// +default=false
	// +optional
	Enabled bool `json:"enabled"`
	// exposeMethod is how the ingress controller is reached from outside the cluster.
	// +default="Proxied"
	// +optional
	ExposeMethod IngressExposeMethod `json:"exposeMethod,omitempty"`
	// hosts are the DNS names routed to the ingress controller when it is proxied.
	// +optional
	// +listType=set
	Hosts []string `json:"hosts,omitempty"`
	// values overrides the ingress controller's chart values.
	// +optional
	// +k8s:openapi-gen=x-kubernetes-preserve-unknown-fields:true
	Values *runtime.RawExtension `json:"values,omitempty"`
}

// KubernetesStatus is the cluster as the platform last observed it.
type KubernetesStatus struct {
	AppStatus `json:",inline"`
}
