package framework

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/tenancy"
)

// CreateNamespace creates a namespace, labelled as a tenant's when tenant is not empty, with the
// Secret of platform values the kinds' releases read (Cozystack's tenant chart writes it). An
// existing namespace is left as it is.
func (cp *ControlPlane) CreateNamespace(ctx context.Context, name, tenant string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if tenant != "" {
		ns.Labels = map[string]string{tenancy.TenantLabel: tenant}
	}
	_, err := cp.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil || tenant == "" {
		return err
	}
	for _, secret := range platformValuesSecrets(name) {
		if _, err := cp.Kube.CoreV1().Secrets(name).Create(ctx, secret, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("platform values for tenant namespace %s: %w", name, err)
		}
	}
	return nil
}

// platformValuesSecrets are the Secrets the kinds' releases take platform values from (valuesFrom),
// with the keys Cozystack's charts read left empty: Flux fails a release whose Secret is missing.
func platformValuesSecrets(namespace string) []*corev1.Secret {
	var secrets []*corev1.Secret
	seen := map[string]bool{}
	for _, kind := range kinds.All() {
		name := kind.Layout.Chart.ValuesSecret
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		secrets = append(secrets, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			StringData: map[string]string{"values.yaml": "_cluster: {}\n_namespace: {}\n"},
		})
	}
	return secrets
}
