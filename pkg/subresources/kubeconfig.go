package subresources

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/registry"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// kubeconfigKeys are the keys of the admin kubeconfig Secret, in order of preference: Kamaji
// writes super-admin.conf and admin.conf; Cluster API's <cluster>-kubeconfig holds value.
var kubeconfigKeys = []string{"super-admin.conf", "admin.conf", "value"}

// kubeconfigREST serves kuberneteses/kubeconfig: the tenant cluster's admin kubeconfig, from the
// Secret "<release>-admin-kubeconfig" its control plane writes.
type kubeconfigREST struct {
	parent   *registry.REST
	kind     *release.Kind
	resource schema.GroupResource
	secrets  corev1client.SecretsGetter
}

func (r *kubeconfigREST) New() runtime.Object { return &appsv1alpha1.Kubernetes{} }
func (r *kubeconfigREST) Destroy()            {}

// ProducesMIMETypes and ProducesObject describe the response in the OpenAPI: a kubeconfig file.
func (r *kubeconfigREST) ProducesMIMETypes(string) []string { return []string{"application/yaml"} }
func (r *kubeconfigREST) ProducesObject(string) any         { return "" }

// Get returns the kubeconfig file.
func (r *kubeconfigREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	if r.secrets == nil {
		return nil, ErrDisabled(r.resource, name)
	}
	obj, err := r.parent.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if obj.(metav1.Object).GetDeletionTimestamp() != nil {
		return nil, notReady(r.resource, name, "the cluster is being deleted")
	}
	releaseName := r.kind.ReleaseName(name)
	secretName := releaseName + "-admin-kubeconfig"
	secret, err := r.secrets.Secrets(genericapirequest.NamespaceValue(ctx)).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		return nil, secretError(r.resource, name, secretName, err)
	}
	if !belongsTo(secret, releaseName) {
		return nil, notReady(r.resource, name, "Secret %s was not written for this cluster (no Helm release or owner named %s)", secretName, releaseName)
	}
	for _, key := range kubeconfigKeys {
		data, ok := secret.Data[key]
		if !ok {
			continue
		}
		config, err := clientcmd.Load(data)
		if err != nil || len(config.Clusters) == 0 || len(config.AuthInfos) == 0 {
			return nil, notReady(r.resource, name, "Secret %s key %s does not hold a usable kubeconfig", secretName, key)
		}
		return &stream{data: data, contentType: "application/yaml"}, nil
	}
	return nil, notReady(r.resource, name, "Secret %s has none of the keys %v", secretName, kubeconfigKeys)
}

// belongsTo reports whether the object was written for the release: by Helm for it, or owned by an
// object of the release's name (Kamaji's control plane, Cluster API's cluster).
func belongsTo(obj metav1.Object, releaseName string) bool {
	if obj.GetAnnotations()[release.HelmAnnotationReleaseName] == releaseName {
		return true
	}
	for _, owner := range obj.GetOwnerReferences() {
		if owner.Name == releaseName {
			return true
		}
	}
	return false
}
