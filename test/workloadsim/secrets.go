package workloadsim

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

var secretsGVR = corev1.SchemeGroupVersion.WithResource("secrets")

// createSecret creates the Secret unless it exists, owned by obj, as the controllers' Secrets are.
func createSecret(ctx context.Context, client dynamic.Interface, owner *unstructured.Unstructured, name string, data map[string]string) error {
	secret := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: owner.GetNamespace(), OwnerReferences: []metav1.OwnerReference{{
			APIVersion: owner.GetAPIVersion(), Kind: owner.GetKind(), Name: owner.GetName(), UID: owner.GetUID()}}},
		StringData: data,
	}
	content, err := runtimeToUnstructured(secret)
	if err != nil {
		return err
	}
	_, err = client.Resource(secretsGVR).Namespace(owner.GetNamespace()).Create(ctx, content, metav1.CreateOptions{FieldManager: "workload-simulator"})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func runtimeToUnstructured(obj any) (*unstructured.Unstructured, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	out := &unstructured.Unstructured{}
	return out, out.UnmarshalJSON(raw)
}

// writeAdminKubeconfig writes "<control plane>-admin-kubeconfig", as Kamaji does once the
// control plane is up. The cluster it points at does not exist here.
func writeAdminKubeconfig(ctx context.Context, client dynamic.Interface, cp *unstructured.Unstructured) error {
	endpoint, _, _ := unstructured.NestedString(cp.Object, "status", "controlPlaneEndpoint")
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: https://%[2]s
users:
- name: %[1]s-admin
  user:
    token: simulated-admin-token-%[3]s
contexts:
- name: %[1]s
  context: {cluster: %[1]s, user: %[1]s-admin}
current-context: %[1]s
`, cp.GetName(), endpoint, cp.GetUID())
	return createSecret(ctx, client, cp, cp.GetName()+"-admin-kubeconfig", map[string]string{"super-admin.conf": kubeconfig})
}

// writeBucketInfo writes the access's credentials Secret in COSI's BucketInfo format.
func writeBucketInfo(ctx context.Context, client dynamic.Interface, access *unstructured.Unstructured) error {
	name, _, _ := unstructured.NestedString(access.Object, "spec", "credentialsSecretName")
	claim, _, _ := unstructured.NestedString(access.Object, "spec", "bucketClaimName")
	if name == "" {
		return nil
	}
	info, err := json.Marshal(map[string]any{"apiVersion": "objectstorage.k8s.io/v1alpha1", "kind": "BucketInfo",
		"metadata": map[string]any{"name": name}, "spec": map[string]any{"bucketName": claim + "-simulated", "authenticationType": "KEY",
			"protocols": []string{"s3"}, "secretS3": map[string]any{"endpoint": "https://s3.local.example", "region": "local",
				"accessKeyID": "AK" + string(access.GetUID())[:8], "accessSecretKey": "simulated-" + string(access.GetUID())}}})
	if err != nil {
		return err
	}
	return createSecret(ctx, client, access, name, map[string]string{"BucketInfo": string(info)})
}
