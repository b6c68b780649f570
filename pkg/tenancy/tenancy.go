// Package tenancy decides where tenants' applications may live. A namespace is a tenant namespace
// only when it carries the tenant label; the server refuses to write apps.cozy.io objects anywhere
// else, whoever asks, so a cluster admin cannot accidentally run tenant workloads in system
// namespaces.
package tenancy

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// TenantLabel marks a namespace as belonging to a tenant; its value is the tenant's name.
const TenantLabel = "tenant.cozy.io/name"

// Checker tells whether a namespace accepts tenant applications. It reads namespaces from a shared
// informer and falls back to a live read for namespaces the informer has not seen yet, so a
// namespace created just before the object is not refused.
type Checker struct {
	namespaces corev1listers.NamespaceLister
	client     kubernetes.Interface
}

// NewChecker returns a Checker over the given namespace lister and client.
func NewChecker(namespaces corev1listers.NamespaceLister, client kubernetes.Interface) *Checker {
	return &Checker{namespaces: namespaces, client: client}
}

// AllowWrite returns a Forbidden error naming the missing label when namespace is not a tenant
// namespace; resource and name describe the refused object.
func (c *Checker) AllowWrite(ctx context.Context, resource schema.GroupResource, namespace, name string) error {
	labels, err := c.namespaceLabels(ctx, namespace)
	if err != nil {
		return err
	}
	if _, ok := labels[TenantLabel]; !ok {
		return apierrors.NewForbidden(resource, name, fmt.Errorf(
			"namespace %q is not a tenant namespace: it lacks the label %q", namespace, TenantLabel))
	}
	return nil
}

func (c *Checker) namespaceLabels(ctx context.Context, namespace string) (map[string]string, error) {
	ns, err := c.namespaces.Get(namespace)
	if err == nil {
		return ns.Labels, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading namespace %q from cache: %w", namespace, err)
	}
	live, err := c.client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return live.Labels, nil
}
