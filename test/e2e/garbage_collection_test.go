package e2e

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

// kube-controller-manager's garbage collector (running in the control plane) honours owner
// references between apps.cozy.io objects and other objects both ways: it sees apps.cozy.io
// objects through this server's metadata-only lists and watches.
func TestGarbageCollectionBothWays(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	buckets := cp.Apps.AppsV1alpha1().Buckets(ns)
	configMaps := cp.Kube.CoreV1().ConfigMaps(ns)

	// A ConfigMap owned by a Bucket goes when the Bucket goes.
	owner, err := buckets.Create(ctx, &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := configMaps.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dependent", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: appsv1alpha1.SchemeGroupVersion.String(), Kind: "Bucket", Name: owner.Name, UID: owner.UID}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := buckets.Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the Bucket's dependent ConfigMap collected", func(ctx context.Context) (bool, error) {
		_, err := configMaps.Get(ctx, "dependent", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})

	// A Bucket owned by a ConfigMap goes when the ConfigMap goes.
	cm, err := configMaps.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buckets.Create(ctx, &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: "dependent", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "ConfigMap", Name: cm.Name, UID: cm.UID}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := configMaps.Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the ConfigMap's dependent Bucket collected", func(ctx context.Context) (bool, error) {
		_, err := buckets.Get(ctx, "dependent", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}
