// Package release is the one place that knows how an apps.cozy.io object becomes a Flux
// HelmRelease and back. Everything else in the server works on the typed objects and a Kind.
package release

import (
	"fmt"
	"strings"
	"sync/atomic"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cozystack/apps-apiserver/pkg/appobjects"
)

// Kind describes one apps.cozy.io kind to the generic machinery: its names, how its releases are
// named and which chart installs it. Adding a kind means writing one of these (see pkg/kinds).
type Kind struct {
	// Kind is the API kind, e.g. "Kubernetes".
	Kind string
	// Resource is the plural resource name used in URLs and RBAC, e.g. "kuberneteses".
	Resource string
	// Singular is the singular resource name kubectl accepts, e.g. "kubernetes".
	Singular string
	// ShortNames are the abbreviations kubectl accepts.
	ShortNames []string
	// ApplicationKind is the value of the release's LabelApplicationKind, the kind's name in
	// cozystack-api (e.g. VMInstance for VirtualMachine). Part of the stored data too.
	ApplicationKind string
	// Layout is the kind's own release layout: built in or from the kinds config for a typed kind,
	// its definition's for a defined kind. Releases are made and read with ReleaseLayout, which a
	// typed kind's ApplicationDefinition may change while the server runs.
	Layout Layout
	// definedLayout is the layout a typed kind's ApplicationDefinition gives, nil without one.
	definedLayout atomic.Pointer[Layout]
	// New returns an empty object of the kind; NewList an empty list.
	New     func() runtime.Object
	NewList func() runtime.Object
	// PrinterColumns are the kind's own columns in `kubectl get`, shown after NAME, READY and
	// VERSION and before AGE.
	PrinterColumns []PrinterColumn
	// SelectableFields are the spec fields list and watch accept in field selectors, besides
	// metadata.name and metadata.namespace.
	SelectableFields []SelectableField
	// DefaultSpec, when set, fills the schema's defaults into {"spec": values} read from a release,
	// as kube-apiserver defaults a custom resource read from etcd: releases written without them
	// (by an older server or another tool) read as if they had them.
	DefaultSpec func(content map[string]any)
	// Workloads are the types of workload objects the kind's chart creates whose state its status
	// shows; ProjectWorkloads makes a WorkloadState of one release's objects of those types.
	Workloads        []WorkloadSource
	ProjectWorkloads func(objects Workloads) WorkloadState
	// Subresources are the kind's own subresources besides status and its own objects, by path
	// (kubeconfig, credentials, start, stop, restart); pkg/subresources serves them.
	Subresources []string
	// OwnObjects select the Secrets, Services and Ingresses that belong to one object of the
	// kind (its definition's spec.secrets, services, ingresses), served as its subresources.
	OwnObjects appobjects.Selections
	// NestsTenants marks the kind whose objects are tenants: each one's release makes a child
	// tenant namespace, named by tenanttree.ChildNamespace and shown in status.namespace.
	NestsTenants bool
}

// SelectableField is a field users can filter lists and watches by, e.g. spec.version.
type SelectableField struct {
	// Path is the field's name in a field selector.
	Path string
	// Value reads the field from an object of the kind.
	Value func(obj runtime.Object) string
}

// PrinterColumn is a kubectl table column filled from a JSONPath into the object, as in a CRD's
// additionalPrinterColumns.
type PrinterColumn struct {
	Name        string
	Type        string
	JSONPath    string
	Description string
}

// Category groups all apps.cozy.io kinds, so `kubectl get cozy` lists them together.
const Category = "cozy"

// TableColumns are the kind's columns in `kubectl get`, as a CRD's additionalPrinterColumns:
// READY and VERSION for every kind, then the kind's own, then AGE.
func (k *Kind) TableColumns() []apiextensionsv1.CustomResourceColumnDefinition {
	columns := []apiextensionsv1.CustomResourceColumnDefinition{
		{Name: "Ready", Type: "string", JSONPath: `.status.conditions[?(@.type=="Ready")].status`, Description: "Whether the application is installed and healthy"},
		{Name: "Version", Type: "string", JSONPath: ".status.version", Description: "Installed chart version"},
	}
	for _, col := range k.PrinterColumns {
		columns = append(columns, apiextensionsv1.CustomResourceColumnDefinition{Name: col.Name, Type: col.Type, JSONPath: col.JSONPath, Description: col.Description})
	}
	return append(columns, apiextensionsv1.CustomResourceColumnDefinition{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"})
}

// MaxReleaseNameLength is Helm's limit on release names; Flux refuses longer HelmRelease names.
const MaxReleaseNameLength = 53

// GroupVersionKind is the kind's identity in apps.cozy.io/v1alpha1.
func (k *Kind) GroupVersionKind(gv schema.GroupVersion) schema.GroupVersionKind {
	return gv.WithKind(k.Kind)
}

// ReleaseName is the HelmRelease (and Helm release) name that stores the object called name.
func (k *Kind) ReleaseName(name string) string { return k.ReleaseLayout().ReleasePrefix + name }

// MaxNameLength is the longest object name whose release name still fits Helm's limit.
func (k *Kind) MaxNameLength() int {
	return MaxReleaseNameLength - len(k.ReleaseLayout().ReleasePrefix)
}

// ObjectName recovers the object name from a release name, reporting false for releases that
// do not carry this kind's prefix.
func (k *Kind) ObjectName(releaseName string) (string, bool) {
	name, ok := strings.CutPrefix(releaseName, k.ReleaseLayout().ReleasePrefix)
	return name, ok && name != ""
}

// Owns reports whether a HelmRelease stores an object of this kind: it carries the kind's
// application-kind label and the kind's release-name prefix.
func (k *Kind) Owns(hr metav1.Object) bool {
	_, named := k.ObjectName(hr.GetName())
	return named && hr.GetLabels()[LabelApplicationKind] == k.ApplicationKind
}

// ReleaseSelector selects the kind's releases in kube-apiserver.
func (k *Kind) ReleaseSelector() string { return LabelApplicationKind + "=" + k.ApplicationKind }

// String names the kind in logs and errors.
func (k *Kind) String() string { return fmt.Sprintf("%s (%s)", k.Kind, k.Resource) }
