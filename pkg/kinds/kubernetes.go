package kinds

import (
	"k8s.io/apimachinery/pkg/runtime"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// Kubernetes is stored as the "kubernetes" chart's release "kubernetes-<name>"; its spec is the
// chart's values as is.
func Kubernetes() *release.Kind {
	return &release.Kind{
		Kind:            "Kubernetes",
		Resource:        "kuberneteses",
		Singular:        "kubernetes",
		ShortNames:      []string{"k8s"},
		ApplicationKind: "Kubernetes",
		Subresources:    []string{"kubeconfig"},
		Layout:          release.Layout{ReleasePrefix: "kubernetes-", Chart: cozystackChart("cozystack-kubernetes-application-kubevirt-kubernetes")},
		New:             func() runtime.Object { return &appsv1alpha1.Kubernetes{} },
		NewList:         func() runtime.Object { return &appsv1alpha1.KubernetesList{} },
		SelectableFields: []release.SelectableField{
			{Path: "spec.version", Value: func(o runtime.Object) string {
				if spec := o.(*appsv1alpha1.Kubernetes).Spec; spec != nil {
					return deref(spec.Version)
				}
				return ""
			}},
		},
		Workloads:        []release.WorkloadSource{CAPIClusters, KamajiControlPlanes, CAPIMachineDeployments},
		ProjectWorkloads: projectKubernetes,
		PrinterColumns: []release.PrinterColumn{
			{Name: "K8s", Type: "string", JSONPath: ".spec.version", Description: "Kubernetes version of the cluster"},
			{Name: "Control-Plane", Type: "integer", JSONPath: ".spec.controlPlane.replicas", Description: "Control-plane replicas"},
		},
	}
}

// deref reads an optional string-typed field for a field selector: absent is "".
func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}
