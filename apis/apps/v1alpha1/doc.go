// Package v1alpha1 holds the apps.cozy.io/v1alpha1 kinds a tenant orders from the platform:
// managed Kubernetes clusters, virtual machines and object-storage buckets. These Go types are the
// single source of truth for each kind's schema: the served OpenAPI, kubectl explain, server-side
// apply and (later) validation are all generated from the comments and markers below.
//
// +k8s:deepcopy-gen=package
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.cozy.apps.v1alpha1
// +groupName=apps.cozy.io
package v1alpha1
