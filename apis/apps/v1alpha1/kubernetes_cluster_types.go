package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime"
)

// ResourcesPreset is a named size for a component's CPU and memory, used when no explicit
// resources are given.
//
// +enum
type ResourcesPreset string

// The resources presets the platform defines: t (burstable), c (compute), s (standard),
// u (universal) and m (memory) series, and the legacy unprefixed names.
const (
	PresetT1Nano    ResourcesPreset = "t1.nano"
	PresetT1Micro   ResourcesPreset = "t1.micro"
	PresetT1Small   ResourcesPreset = "t1.small"
	PresetT1Medium  ResourcesPreset = "t1.medium"
	PresetT1Large   ResourcesPreset = "t1.large"
	PresetT1XLarge  ResourcesPreset = "t1.xlarge"
	PresetT12XLarge ResourcesPreset = "t1.2xlarge"
	PresetT14XLarge ResourcesPreset = "t1.4xlarge"
	PresetC1Nano    ResourcesPreset = "c1.nano"
	PresetC1Micro   ResourcesPreset = "c1.micro"
	PresetC1Small   ResourcesPreset = "c1.small"
	PresetC1Medium  ResourcesPreset = "c1.medium"
	PresetC1Large   ResourcesPreset = "c1.large"
	PresetC1XLarge  ResourcesPreset = "c1.xlarge"
	PresetC12XLarge ResourcesPreset = "c1.2xlarge"
	PresetC14XLarge ResourcesPreset = "c1.4xlarge"
	PresetS1Nano    ResourcesPreset = "s1.nano"
	PresetS1Micro   ResourcesPreset = "s1.micro"
	PresetS1Small   ResourcesPreset = "s1.small"
	PresetS1Medium  ResourcesPreset = "s1.medium"
	PresetS1Large   ResourcesPreset = "s1.large"
	PresetS1XLarge  ResourcesPreset = "s1.xlarge"
	PresetS12XLarge ResourcesPreset = "s1.2xlarge"
	PresetS14XLarge ResourcesPreset = "s1.4xlarge"
	PresetU1Nano    ResourcesPreset = "u1.nano"
	PresetU1Micro   ResourcesPreset = "u1.micro"
	PresetU1Small   ResourcesPreset = "u1.small"
	PresetU1Medium  ResourcesPreset = "u1.medium"
	PresetU1Large   ResourcesPreset = "u1.large"
	PresetU1XLarge  ResourcesPreset = "u1.xlarge"
	PresetU12XLarge ResourcesPreset = "u1.2xlarge"
	PresetU14XLarge ResourcesPreset = "u1.4xlarge"
	PresetM1Nano    ResourcesPreset = "m1.nano"
	PresetM1Micro   ResourcesPreset = "m1.micro"
	PresetM1Small   ResourcesPreset = "m1.small"
	PresetM1Medium  ResourcesPreset = "m1.medium"
	PresetM1Large   ResourcesPreset = "m1.large"
	PresetM1XLarge  ResourcesPreset = "m1.xlarge"
	PresetM12XLarge ResourcesPreset = "m1.2xlarge"
	PresetM14XLarge ResourcesPreset = "m1.4xlarge"
	PresetNano      ResourcesPreset = "nano"
	PresetMicro     ResourcesPreset = "micro"
	PresetSmall     ResourcesPreset = "small"
	PresetMedium    ResourcesPreset = "medium"
	PresetLarge     ResourcesPreset = "large"
	PresetXLarge    ResourcesPreset = "xlarge"
	PresetX2XLarge  ResourcesPreset = "2xlarge"
)

// KubernetesAddons are the optional components the chart can install into a tenant cluster.
type KubernetesAddons struct {
	// certManager installs cert-manager for certificate issuing.
	// +default={}
	// +optional
	CertManager *Addon `json:"certManager,omitempty"`
	// cilium tunes the cluster's network plugin, which is always installed.
	// +default={}
	// +optional
	Cilium *ValuesOverride `json:"cilium,omitempty"`
	// coredns tunes the cluster's DNS, which is always installed.
	// +default={}
	// +optional
	Coredns *ValuesOverride `json:"coredns,omitempty"`
	// gatewayAPI installs the Gateway API resource definitions.
	// +default={}
	// +optional
	GatewayAPI *Toggle `json:"gatewayAPI,omitempty"`
	// gpuOperator installs the NVIDIA GPU operator for node groups with GPUs.
	// +default={}
	// +optional
	GPUOperator *Addon `json:"gpuOperator,omitempty"`
	// hami installs HAMi to share GPUs between pods.
	// +default={}
	// +optional
	Hami *Addon `json:"hami,omitempty"`
	// ingressNginx installs the NGINX ingress controller.
	// +default={}
	// +optional
	IngressNginx *IngressNginxAddon `json:"ingressNginx,omitempty"`
	// monitoringAgents installs the agents that ship metrics and logs to the tenant's monitoring.
	// +default={}
	// +optional
	MonitoringAgents *Addon `json:"monitoringAgents,omitempty"`
	// ouroboros installs ouroboros, which routes in-cluster traffic to the cluster's own ingress.
	// +default={}
	// +optional
	Ouroboros *Addon `json:"ouroboros,omitempty"`
	// velero installs Velero for backups of the cluster's workloads.
	// +default={}
	// +optional
	Velero *Addon `json:"velero,omitempty"`
	// verticalPodAutoscaler tunes the vertical pod autoscaler, which is always installed.
	// +default={}
	// +optional
	VerticalPodAutoscaler *ValuesOverride `json:"verticalPodAutoscaler,omitempty"`
}

// Addon is a component that is installed on request, with its chart values overridable.
type Addon struct {
	// enabled installs the component when true and removes it when false.
	// +default=false
	// +optional
	Enabled bool `json:"enabled"`
	// valuesOverride overrides the component's chart values. Free-form: it is passed to the
	// component's chart as is, within the size limits every spec has.
	// +default={}
	// +optional
	// +k8s:openapi-gen=x-kubernetes-preserve-unknown-fields:true
	ValuesOverride *runtime.RawExtension `json:"valuesOverride,omitempty"`
}

// ValuesOverride is a component that is always installed; only its chart values can be changed.
type ValuesOverride struct {
	// valuesOverride overrides the component's chart values. Free-form: it is passed to the
	// component's chart as is, within the size limits every spec has.
	// +default={}
	// +optional
	// +k8s:openapi-gen=x-kubernetes-preserve-unknown-fields:true
	ValuesOverride *runtime.RawExtension `json:"valuesOverride,omitempty"`
}

// Toggle is a component that is only switched on or off.
type Toggle struct {
	// enabled installs the component when true and removes it when false.
	// +default=false
	// +optional
	Enabled bool `json:"enabled"`
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

// IngressNginxAddon is the ingress controller addon, which also needs to know how it is exposed.
type IngressNginxAddon struct {
	// enabled installs the ingress controller when true.
	// +default=false
	// +optional
	Enabled bool `json:"enabled"`
	// exposeMethod is how the ingress controller is reached from outside the cluster.
	// +default="Proxied"
	// +optional
	ExposeMethod *IngressExposeMethod `json:"exposeMethod,omitempty"`
	// hosts are the DNS names routed to the ingress controller when it is proxied.
	// +default=[]
	// +optional
	// +listType=set
	Hosts []string `json:"hosts"`
	// valuesOverride overrides the ingress controller's chart values.
	// +default={}
	// +optional
	// +k8s:openapi-gen=x-kubernetes-preserve-unknown-fields:true
	ValuesOverride *runtime.RawExtension `json:"valuesOverride,omitempty"`
}

// ControlPlane sizes the hosted control plane of a tenant cluster.
type ControlPlane struct {
	// replicas is the number of replicas of each control-plane component. Stricter than the
	// chart: at least 1 (a cluster without an API server is no cluster) and at most 7.
	// +default=2
	// +optional
	// +k8s:validation:minimum=1
	// +k8s:validation:maximum=7
	Replicas *int32 `json:"replicas,omitempty"`
	// apiServer sizes the API server.
	// +default={}
	// +optional
	APIServer *APIServer `json:"apiServer,omitempty"`
	// controllerManager sizes the controller manager.
	// +default={}
	// +optional
	ControllerManager *ComponentSize `json:"controllerManager,omitempty"`
	// scheduler sizes the scheduler.
	// +default={}
	// +optional
	Scheduler *ComponentSize `json:"scheduler,omitempty"`
	// konnectivity sizes the konnectivity server that tunnels the API server to the nodes.
	// +default={}
	// +optional
	Konnectivity *Konnectivity `json:"konnectivity,omitempty"`
}

// APIServer sizes the tenant cluster's API server and adds to its command line.
type APIServer struct {
	// resources are explicit CPU and memory; they override resourcesPreset.
	// +default={}
	// +optional
	Resources *Resources `json:"resources,omitempty"`
	// resourcesPreset is the size used when resources are not given.
	// +default="c1.medium"
	// +optional
	ResourcesPreset *ResourcesPreset `json:"resourcesPreset,omitempty"`
	// extraArgs are added to the API server's command line.
	// +default=[]
	// +optional
	// +listType=atomic
	ExtraArgs []string `json:"extraArgs"`
	// extraVolumes are added to the API server's pod, as Kubernetes volumes.
	// +default=[]
	// +optional
	// +listType=atomic
	ExtraVolumes []runtime.RawExtension `json:"extraVolumes"`
	// extraVolumeMounts are added to the API server's container, as Kubernetes volume mounts.
	// +default=[]
	// +optional
	// +listType=atomic
	ExtraVolumeMounts []runtime.RawExtension `json:"extraVolumeMounts"`
}

// ComponentSize sizes a control-plane component.
type ComponentSize struct {
	// resources are explicit CPU and memory; they override resourcesPreset.
	// +default={}
	// +optional
	Resources *Resources `json:"resources,omitempty"`
	// resourcesPreset is the size used when resources are not given.
	// +default="t1.micro"
	// +optional
	ResourcesPreset *ResourcesPreset `json:"resourcesPreset,omitempty"`
}

// Konnectivity sizes the konnectivity components.
type Konnectivity struct {
	// server sizes the konnectivity server.
	// +default={}
	// +optional
	Server *ComponentSize `json:"server,omitempty"`
}

// KubernetesImages overrides the images of the chart's helper jobs.
type KubernetesImages struct {
	// kubectl is the image of the jobs that run kubectl.
	// +default=""
	// +optional
	Kubectl string `json:"kubectl"`
	// talosCsrSigner is the image of the Talos CSR signer.
	// +default=""
	// +optional
	TalosCsrSigner string `json:"talosCsrSigner"`
	// waitForKubeconfig is the image of the job that waits for the cluster's kubeconfig.
	// +default=""
	// +optional
	WaitForKubeconfig string `json:"waitForKubeconfig"`
}

// Talos configures the Talos Linux images the nodes boot.
type Talos struct {
	// imageFactoryURL is the Talos image factory that builds node images.
	// +default="https://factory.talos.dev"
	// +optional
	ImageFactoryURL *string `json:"imageFactoryURL,omitempty"`
	// installerRepository is the repository of the Talos installer image.
	// +default="factory.talos.dev/installer"
	// +optional
	InstallerRepository *string `json:"installerRepository,omitempty"`
	// registryMirrors configures the nodes' registry mirrors, as Talos' machine configuration
	// does. Free-form.
	// +default={}
	// +optional
	// +k8s:openapi-gen=x-kubernetes-preserve-unknown-fields:true
	RegistryMirrors *runtime.RawExtension `json:"registryMirrors,omitempty"`
	// schematicID is the image factory schematic (the set of system extensions) of node images.
	// +default="ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515"
	// +optional
	SchematicID *string `json:"schematicID,omitempty"`
	// version is the Talos version of node images.
	// +default="v1.13.6"
	// +optional
	Version *string `json:"version,omitempty"`
}

// NodeHealthCheck says when an unhealthy node is replaced.
type NodeHealthCheck struct {
	// maxUnhealthy is how many nodes (a number or a percentage) may be unhealthy before
	// replacements stop, so a wider outage is not made worse.
	// +default="50%"
	// +optional
	MaxUnhealthy *string `json:"maxUnhealthy,omitempty"`
	// nodeStartupTimeout is how long a new node may take to become ready.
	// +default="20m"
	// +optional
	NodeStartupTimeout *string `json:"nodeStartupTimeout,omitempty"`
	// readyFalseTimeout is how long a node may be not ready before it is replaced.
	// +default="10m"
	// +optional
	ReadyFalseTimeout *string `json:"readyFalseTimeout,omitempty"`
	// readyUnknownTimeout is how long a node may be unreachable before it is replaced.
	// +default="5m"
	// +optional
	ReadyUnknownTimeout *string `json:"readyUnknownTimeout,omitempty"`
}

// OIDCMode is how users log in to a tenant cluster.
//
// +enum
type OIDCMode string

// The login modes the chart supports.
const (
	// OIDCModeNone uses only the admin kubeconfig.
	OIDCModeNone OIDCMode = "None"
	// OIDCModeSystem uses the platform's identity provider.
	OIDCModeSystem OIDCMode = "System"
	// OIDCModeCustomConfig uses an authentication configuration the tenant provides.
	OIDCModeCustomConfig OIDCMode = "CustomConfig"
)

// OIDC configures how users log in to a tenant cluster's API.
type OIDC struct {
	// mode is how users log in.
	// +default="None"
	// +optional
	Mode *OIDCMode `json:"mode,omitempty"`
	// users are the platform users given a role in the cluster when mode is System.
	// +default=[]
	// +optional
	// +listType=atomic
	Users []OIDCUser `json:"users"`
	// customConfig is the authentication configuration used when mode is CustomConfig.
	// +default={}
	// +optional
	CustomConfig *OIDCCustomConfig `json:"customConfig,omitempty"`
}

// OIDCRole is the role a platform user gets in a tenant cluster.
//
// +enum
type OIDCRole string

// The roles the chart can give.
const (
	OIDCRoleAdmin OIDCRole = "admin"
	OIDCRoleView  OIDCRole = "view"
)

// OIDCUser gives a platform user a role in the cluster.
type OIDCUser struct {
	// email identifies the user.
	// +required
	// +k8s:validation:minLength=1
	// +k8s:validation:maxLength=254
	Email *string `json:"email,omitempty"`
	// role is what the user may do.
	// +required
	Role *OIDCRole `json:"role,omitempty"`
}

// OIDCCustomConfig is an authentication configuration provided by the tenant.
type OIDCCustomConfig struct {
	// config is a Kubernetes AuthenticationConfiguration, as YAML.
	// +default=""
	// +optional
	Config string `json:"config"`
	// secretRef names a Secret in the tenant namespace that holds the configuration instead.
	// +default={}
	// +optional
	SecretRef *SecretRef `json:"secretRef,omitempty"`
}

// SecretRef names a Secret in the object's namespace.
type SecretRef struct {
	// name is the Secret's name.
	// +default=""
	// +optional
	// +k8s:validation:maxLength=253
	Name string `json:"name"`
}
