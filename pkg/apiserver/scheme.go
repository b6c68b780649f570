package apiserver

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/registry"
)

var (
	// Scheme knows the apps.cozy.io types and the meta types the generic handlers need.
	Scheme = runtime.NewScheme()
	// Codecs serializes objects of Scheme for the handlers.
	Codecs = serializer.NewCodecFactory(Scheme)
)

func init() {
	utilruntime.Must(appsv1alpha1.AddToScheme(Scheme))
	// The generic handlers convert request bodies to the "internal" hub version before calling
	// storage. apps.cozy.io has one version and no separate internal types, so the same Go types
	// are registered as the hub: conversion between the two is the identity.
	internal := schema.GroupVersion{Group: appsv1alpha1.GroupName, Version: runtime.APIVersionInternal}
	Scheme.AddKnownTypes(internal, &appsv1alpha1.BucketCredentials{})
	for _, k := range kinds.All() {
		Scheme.AddKnownTypes(internal, k.New(), k.NewList())
		// Once, here: the Scheme is process-global, and registering while another server in the
		// process serves requests would race. Selectable fields are not configuration.
		utilruntime.Must(Scheme.AddFieldLabelConversionFunc(k.GroupVersionKind(appsv1alpha1.SchemeGroupVersion), registry.FieldLabelConversion(k)))
	}
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	Scheme.AddUnversionedTypes(unversioned,
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})
}
