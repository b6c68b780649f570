package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
)

// An ordinary ResourceQuota limits apps.cozy.io objects as it limits a CRD's: the server's quota
// admission refuses the create beyond the limit, and kube-controller-manager's quota controller
// (running in the control plane) counts the objects through the server's lists and watches, so
// deleting one frees its place. The CRD twin served by kube-apiserver gets the same steps.
func TestResourceQuotaCountsObjects(t *testing.T) {
	compare(t, func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string) {
		ctx := context.Background()
		counted := corev1.ResourceName("count/" + tg.resource.Resource + "." + tg.resource.Group)
		quotas := cp.Kube.CoreV1().ResourceQuotas(ns)
		if _, err := quotas.Create(ctx, &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "buckets"},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{counted: resource.MustParse("1")}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		used := func(want int64) func(ctx context.Context) (bool, error) {
			return func(ctx context.Context) (bool, error) {
				q, err := quotas.Get(ctx, "buckets", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				n, ok := q.Status.Used[counted]
				return ok && n.Value() == want, nil
			}
		}
		eventually(t, 60*time.Second, "the quota controller counts no "+tg.resource.Resource, used(0))

		mustCreate(t, c, tg.object("first"))
		eventually(t, 30*time.Second, "one counted", used(1))
		for _, dryRun := range [][]string{{metav1.DryRunAll}, nil} {
			_, err := c.Create(ctx, tg.object("second"), metav1.CreateOptions{DryRun: dryRun})
			if !apierrors.IsForbidden(err) {
				t.Fatalf("create beyond the quota (dryRun %v): %v, want 403 Forbidden", dryRun, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "exceeded quota: buckets") || !strings.Contains(msg, "limited: "+string(counted)+"=1") {
				t.Errorf("create beyond the quota: %q does not say which quota and limit", msg)
			}
		}
		if _, err := c.Get(ctx, "second", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("the refused object exists: %v", err)
		}

		// Deleting one frees its place once the controller has recounted.
		if err := c.Delete(ctx, "first", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "the deletion counted", used(0))
		mustCreate(t, c, tg.object("second"))
		eventually(t, 30*time.Second, "the new object counted", used(1))
	})
}
