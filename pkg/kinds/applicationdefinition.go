package kinds

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cozystack/apps-apiserver/pkg/appobjects"
)

// ApplicationDefinitionGVR is the platform's catalog entry: one cluster-scoped object per
// application, written by the platform's operators (artifacts/deploy/05-applicationdefinition-crd.yaml).
var ApplicationDefinitionGVR = schema.GroupVersionResource{Group: "cozystack.io", Version: "v1alpha1", Resource: "applicationdefinitions"}

// ApplicationDefinitionKind is the kind of ApplicationDefinitionGVR, for the Events reported on one.
const ApplicationDefinitionKind = "ApplicationDefinition"

// ApplicationDefinition is the part of the platform's ApplicationDefinition this server reads.
// It is decoded from the unstructured object leniently: fields it does not know (dashboard
// hints, later additions) are ignored, as the platform's own console reads them.
type ApplicationDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ApplicationDefinitionSpec `json:"spec"`
}

// ApplicationDefinitionSpec says how the application is served (Application) and stored (Release).
type ApplicationDefinitionSpec struct {
	Application ApplicationNames   `json:"application"`
	Release     ApplicationRelease `json:"release"`
	// Secrets, Services and Ingresses select the objects that belong to one application.
	Secrets   *appobjects.ResourceSelection `json:"secrets,omitempty"`
	Services  *appobjects.ResourceSelection `json:"services,omitempty"`
	Ingresses *appobjects.ResourceSelection `json:"ingresses,omitempty"`
}

// ApplicationNames are the served kind's names and the schema of its spec.
type ApplicationNames struct {
	Kind     string `json:"kind"`
	Plural   string `json:"plural"`
	Singular string `json:"singular"`
	// OpenAPISchema is a JSON Schema document (a string): the chart's values schema, which is
	// the kind's spec.
	OpenAPISchema string `json:"openAPISchema"`
}

// ApplicationRelease is how an object of the kind is laid out as a HelmRelease.
type ApplicationRelease struct {
	// Prefix is prepended to the object's name to make the release name; it may be empty.
	Prefix string `json:"prefix"`
	// Labels are given to every release of the kind.
	Labels map[string]string `json:"labels,omitempty"`
	// ChartRef is the Flux source that is the chart (kind, name, namespace).
	ChartRef *ChartRef `json:"chartRef,omitempty"`
}

// ChartRef is a Flux cross-namespace source reference.
type ChartRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
}

// DecodeApplicationDefinition reads an ApplicationDefinition from the unstructured object a
// dynamic informer delivers. Fields of the wrong type are an error naming the field.
func DecodeApplicationDefinition(obj *unstructured.Unstructured) (*ApplicationDefinition, error) {
	def := &ApplicationDefinition{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.UnstructuredContent(), def); err != nil {
		return nil, fmt.Errorf("decoding ApplicationDefinition %s: %w", obj.GetName(), err)
	}
	return def, nil
}
