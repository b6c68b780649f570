package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group every kind of this server is served under.
const GroupName = "apps.cozy.io"

// SchemeGroupVersion is the only version served; clients and the server share it.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Resource qualifies a resource name with the group so errors and RBAC checks name it fully.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

var (
	// SchemeBuilder collects the functions that register these types, so callers can compose schemes.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme registers the kinds with a scheme; used by the server and by the generated clientset.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&Kubernetes{}, &KubernetesList{},
		&VirtualMachine{}, &VirtualMachineList{},
		&VMDisk{}, &VMDiskList{},
		&Bucket{}, &BucketList{},
		&BucketCredentials{},
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
