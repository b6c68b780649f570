package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionReady is the condition every kind reports once its release is installed and healthy, so
// `kubectl wait --for=condition=Ready` works the same for all of them.
const ConditionReady = "Ready"

// AppStatus is the part of the status every kind shares. It is projected from the backing Flux
// HelmRelease, never written by clients, so all kinds report readiness the same way.
type AppStatus struct {
	// conditions describe the latest observed state of the application, as reported by the
	// release controller. `Ready` is True once the application is installed and healthy.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchMergeKey=type
	// +patchStrategy=merge
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// observedGeneration is the metadata.generation the release controller last acted on. While it
	// is lower than metadata.generation, the conditions describe an older spec.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// version is the version of the platform chart that is installed for this application.
	// +optional
	Version string `json:"version,omitempty"`

	// namespace is the tenant namespace a Tenant application makes for its own applications, named
	// from the Tenant's name and namespace as the platform's tenant chart names it; empty for
	// every other kind.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// GPU asks for a GPU device by the resource name the platform's device plugin exposes.
type GPU struct {
	// name is the device resource name, e.g. `nvidia.com/AD102GL_L40S`.
	// +required
	// +k8s:validation:minLength=1
	// +k8s:validation:maxLength=253
	// +k8s:validation:pattern="^[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?(/[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?$"
	Name *string `json:"name,omitempty"`
}
