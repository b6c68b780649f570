package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// Kinds defined at run time live and die with their namespace and their owners as the typed
// kinds do, with kube-controller-manager's quota, namespace and garbage collector controllers
// (running in the control plane) finding them through discovery — also when the kind is defined
// after the namespace, the quota or the owner existed.

// TestCatalogQuotaOnAKindDefinedLater: a `count/<plural>.apps.cozy.io` quota written before its
// kind exists limits the kind once it is served. As for a CRD defined after a quota, creates are
// refused ("status unknown") until the quota controller has counted the new resource.
func TestCatalogQuotaOnAKindDefinedLater(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	counted := corev1.ResourceName("count/quotums.apps.cozy.io")
	quotas := cp.Kube.CoreV1().ResourceQuotas(ns)
	if _, err := quotas.Create(ctx, &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "quotums"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{counted: resource.MustParse("1")}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	applyDefinition(t, renamedDefinition(t, "redis", "quotum", "Quotum", "quotums", "quotum-"))
	awaitServed(t, cp.Dynamic, "quotums", ns)
	client := cp.Dynamic.Resource(gvr("quotums")).Namespace(ns)
	used := func(want int64) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			q, err := quotas.Get(ctx, "quotums", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			n, ok := q.Status.Used[counted]
			return ok && n.Value() == want, fmt.Errorf("used %v", q.Status.Used)
		}
	}
	eventually(t, 60*time.Second, "the quota controller counts the new kind", used(0))
	eventually(t, 30*time.Second, "the first object admitted", func(ctx context.Context) (bool, error) {
		_, err := client.Create(ctx, gadgetOf("Quotum", "first", map[string]any{}), metav1.CreateOptions{})
		return err == nil, err
	})
	eventually(t, 30*time.Second, "one counted", used(1))
	_, err := client.Create(ctx, gadgetOf("Quotum", "second", map[string]any{}), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "exceeded quota: quotums") {
		t.Fatalf("create beyond the quota: %v, want 403 exceeded quota", err)
	}
	if err := client.Delete(ctx, "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the deletion counted", used(0))
	mustCreate(t, client, gadgetOf("Quotum", "second", map[string]any{}))
}

// TestCatalogNamespaceDeletion: a tenant namespace holding objects of kinds defined after it was
// created — one installed by Flux, whose finalizer holds its release until Helm uninstalled it —
// is deleted completely: the namespace controller deletes the objects through this server, Flux
// uninstalls, and no HelmRelease is left.
func TestCatalogNamespaceDeletion(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	dumpFluxLogOnFailure(t)
	applyDefinition(t, renamedDefinition(t, "postgres", "relic", "Relic", "relics", "relic-"))
	applyDefinition(t, renamedDefinition(t, "redis", "trinket", "Trinket", "trinkets", "trinket-"))
	awaitServed(t, cp.Dynamic, "relics", ns)
	awaitServed(t, cp.Dynamic, "trinkets", ns)
	installed := gadgetOf("Relic", "db", map[string]any{})
	installed.SetLabels(map[string]string{fluxLabel: "true"})
	mustCreate(t, cp.Dynamic.Resource(gvr("relics")).Namespace(ns), installed)
	mustCreate(t, cp.Dynamic.Resource(gvr("trinkets")).Namespace(ns), gadgetOf("Trinket", "cache", map[string]any{}))
	eventually(t, 90*time.Second, "Flux installed the labelled release", func(ctx context.Context) (bool, error) {
		hr, err := helmRelease(ctx, ns, "relic-db")
		if err != nil {
			return false, err
		}
		return len(hr.GetFinalizers()) > 0, nil
	})

	if err := cp.Kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	awaitNamespaceGone(t, ns)
	releases, err := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(releases.Items) != 0 {
		t.Errorf("HelmReleases left in the deleted namespace: %v %v", err, releases)
	}
}

// TestCatalogGarbageCollectionBothWays: owner references between an object of a kind defined
// after its owner existed and a ConfigMap are honoured both ways.
func TestCatalogGarbageCollectionBothWays(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	configMaps := cp.Kube.CoreV1().ConfigMaps(ns)
	cm, err := configMaps.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applyDefinition(t, renamedDefinition(t, "redis", "heirloom", "Heirloom", "heirlooms", "heirloom-"))
	awaitServed(t, cp.Dynamic, "heirlooms", ns)
	heirlooms := cp.Dynamic.Resource(gvr("heirlooms")).Namespace(ns)

	// A ConfigMap owned by a Heirloom goes when the Heirloom goes.
	owner := mustCreate(t, heirlooms, gadgetOf("Heirloom", "owner", map[string]any{}))
	if _, err := configMaps.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dependent", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "apps.cozy.io/v1alpha1", Kind: "Heirloom", Name: owner.GetName(), UID: owner.GetUID()}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := heirlooms.Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the Heirloom's dependent ConfigMap collected", func(ctx context.Context) (bool, error) {
		_, err := configMaps.Get(ctx, "dependent", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})

	// A Heirloom owned by a ConfigMap (created before the kind was defined) goes when it goes.
	dependent := gadgetOf("Heirloom", "dependent", map[string]any{})
	dependent.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: cm.Name, UID: cm.UID}})
	created := mustCreate(t, heirlooms, dependent)
	if refs := created.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != cm.UID {
		t.Fatalf("the owner reference was not stored: %v", refs)
	}
	if err := configMaps.Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the ConfigMap's dependent Heirloom collected", func(ctx context.Context) (bool, error) {
		_, err := heirlooms.Get(ctx, "dependent", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	if _, err := helmRelease(ctx, ns, "heirloom-dependent"); !apierrors.IsNotFound(err) {
		t.Errorf("the collected object's release: %v, want gone", err)
	}
}
