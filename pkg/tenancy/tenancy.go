// Package tenancy decides where tenants' applications may live. A namespace is a tenant namespace
// only when its labels match the tenant selector; the server refuses to write apps.cozy.io objects
// anywhere else, whoever asks, so a cluster admin cannot accidentally run tenant workloads in
// system namespaces.
package tenancy

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"

	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/tenanttree"
)

// TenantLabel marks a namespace as belonging to a tenant; its value is the tenant's name. The
// default selector asks for it; Cozystack's tenant namespaces carry tenant.cozystack.io/tenant-root.
const TenantLabel = "tenant.cozy.io/name"

// DefaultSelector is the tenant-namespace selector used unless configured otherwise.
const DefaultSelector = TenantLabel

// Checker tells whether a namespace accepts tenant applications. It reads namespaces from a shared
// informer and falls back to a live read for namespaces the informer has not seen yet, so a
// namespace created just before the object is not refused.
type Checker struct {
	selector   labels.Selector
	namespaces corev1listers.NamespaceLister
	client     kubernetes.Interface
}

// NewChecker returns a Checker that accepts namespaces whose labels match selector (label
// selector syntax, e.g. "tenant.cozystack.io/tenant-root"), reading them through the given
// namespace lister and client.
func NewChecker(selector string, namespaces corev1listers.NamespaceLister, client kubernetes.Interface) (*Checker, error) {
	parsed, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("tenant namespace selector %q: %w", selector, err)
	}
	if parsed.Empty() {
		return nil, fmt.Errorf("tenant namespace selector %q selects every namespace", selector)
	}
	return &Checker{selector: parsed, namespaces: namespaces, client: client}, nil
}

// Selector is the label selector of tenant namespaces.
func (c *Checker) Selector() labels.Selector { return c.selector }

// AllowWrite returns a Forbidden error naming the selector when namespace is not a tenant
// namespace; resource and name describe the refused object.
func (c *Checker) AllowWrite(ctx context.Context, resource schema.GroupResource, namespace, name string) error {
	ns, err := c.namespace(ctx, namespace)
	if err != nil {
		return err
	}
	if !c.selector.Matches(labels.Set(ns.Labels)) {
		return apierrors.NewForbidden(resource, name, fmt.Errorf(
			"namespace %q is not a tenant namespace: its labels do not match %q", namespace, c.selector.String()))
	}
	return nil
}

// AllowChildTenant returns a Conflict error when the namespace the Tenant name in namespace parent
// would make (tenanttree.ChildNamespace) exists and was not made by the Tenant's own release
// releaseName: a Tenant never takes over a namespace (Helm would refuse to adopt it too, but only
// after the object was stored). A namespace left by an earlier Tenant of the same name, still being
// deleted, is its own.
func (c *Checker) AllowChildTenant(ctx context.Context, resource schema.GroupResource, parent, name, releaseName string) error {
	child := tenanttree.ChildNamespace(parent, name)
	if child == parent {
		return nil
	}
	ns, err := c.namespace(ctx, child)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	annotations := ns.GetAnnotations()
	if annotations[release.HelmAnnotationReleaseName] == releaseName && annotations[release.HelmAnnotationReleaseNamespace] == parent {
		return nil
	}
	return apierrors.NewConflict(resource, name, fmt.Errorf("its namespace %q already exists and was not made by this Tenant", child))
}

// namespace reads a namespace from the shared informer, or live when the informer has not seen it
// yet (a namespace created just before the request).
func (c *Checker) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	ns, err := c.namespaces.Get(name)
	if err == nil {
		return ns, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading namespace %q from cache: %w", name, err)
	}
	return c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
}
