package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	if err := cp.CreateNamespace(ctx, "tenant-smoke", "smoke"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		start := time.Now()
		k := &appsv1alpha1.Kubernetes{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("a", i)}, Spec: appsv1alpha1.KubernetesSpec{Version: "v1.36"}}
		_, err := cp.Apps.AppsV1alpha1().Kuberneteses("tenant-smoke").Create(ctx, k, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("create %v", time.Since(start))
		start = time.Now()
		_, err = cp.Apps.AppsV1alpha1().Kuberneteses("tenant-smoke").Get(ctx, k.Name, metav1.GetOptions{})
		t.Logf("get %v %v", time.Since(start), err)
	}
}
