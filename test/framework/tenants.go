package framework

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/apps-apiserver/pkg/tenancy"
)

// CreateNamespace creates a namespace, labelled as a tenant's when tenant is not empty. An existing
// namespace is left as it is.
func (cp *ControlPlane) CreateNamespace(ctx context.Context, name, tenant string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if tenant != "" {
		ns.Labels = map[string]string{tenancy.TenantLabel: tenant}
	}
	_, err := cp.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
