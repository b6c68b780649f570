package e2e

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// Deleting a tenant namespace full of apps.cozy.io objects finishes, with kube-controller-manager's
// namespace controller (running in the control plane) deleting them through this server — an
// aggregated API that lists or deletes wrongly blocks namespace deletion — and Flux uninstalling
// the releases it installed.
func TestTenantNamespaceDeletionFinishes(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	dumpFluxLogOnFailure(t)
	for _, kc := range allKinds(t) {
		obj := kc.example.DeepCopy()
		if kc.kind == "Bucket" {
			// One installed by Flux: its finalizer holds the release until Helm uninstalled it.
			obj.SetLabels(map[string]string{fluxLabel: "true"})
		}
		if _, err := cp.Dynamic.Resource(kc.resource).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 60*time.Second, "Flux installed the labelled release", func(ctx context.Context) (bool, error) {
		hr, err := helmRelease(ctx, ns, "bucket-backups")
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
