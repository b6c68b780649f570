package e2e

import (
	"context"
	"testing"
	"time"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
)

// TestKubernetesRoundTrip follows one cluster from creation to Ready: the HelmRelease appears with
// the spec as values and the ownership labels, Flux (played by the test) reports the release
// Ready, and the Kubernetes object reports Ready with the installed chart version.
func TestKubernetesRoundTrip(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	clusters := cp.Apps.AppsV1alpha1().Kuberneteses(ns)

	want := &appsv1alpha1.Kubernetes{
		ObjectMeta: metav1.ObjectMeta{Name: "prod", Labels: map[string]string{"env": "prod"}},
		Spec: &appsv1alpha1.KubernetesSpec{
			Version:      ptr.To(appsv1alpha1.KubernetesV134),
			ControlPlane: &appsv1alpha1.ControlPlane{Replicas: ptr.To[int32](3)},
			NodeGroups: map[string]appsv1alpha1.NodeGroup{
				"md0": {MinReplicas: 1, MaxReplicas: ptr.To[int32](4), InstanceType: ptr.To("u1.large")},
			},
		},
	}
	created, err := clusters.Create(ctx, want, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *created.Spec.NodeGroups["md0"].MaxReplicas != 4 || created.Labels["env"] != "prod" {
		t.Fatalf("created object lost content: %+v", created)
	}

	workloadsUp(t, ns, "kubernetes-prod", clusterObject, kamajiControlPlaneObject)
	hr, err := helmRelease(ctx, ns, "kubernetes-prod")
	if err != nil {
		t.Fatal(err)
	}
	if hr.GetLabels()[release.LabelApplicationKind] != "Kubernetes" || hr.GetLabels()[release.LabelApplicationName] != "prod" || hr.GetLabels()[release.StoredKey("env")] != "prod" {
		t.Errorf("HelmRelease labels = %v", hr.GetLabels())
	}
	for path, want := range map[string]any{
		"version":               "v1.34",
		"controlPlane.replicas": int64(3),
	} {
		got, _, _ := unstructured.NestedFieldNoCopy(hr.Object, append([]string{"spec", "values"}, splitPath(path)...)...)
		if got != want {
			t.Errorf("HelmRelease values.%s = %v (%T), want %v", path, got, got, want)
		}
	}
	if got, _, _ := unstructured.NestedString(hr.Object, "spec", "values", "nodeGroups", "md0", "instanceType"); got != "u1.large" {
		t.Errorf("HelmRelease values.nodeGroups.md0.instanceType = %q", got)
	}

	// Play Flux: report the release installed and Ready for the current generation.
	now := metav1.NewTime(time.Now())
	status := map[string]any{
		"observedGeneration": hr.GetGeneration(),
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "InstallSucceeded", "message": "Helm install succeeded",
			"observedGeneration": hr.GetGeneration(), "lastTransitionTime": now.UTC().Format(time.RFC3339),
		}},
		"history": []any{map[string]any{
			"name": "kubernetes-prod", "namespace": ns, "version": int64(1), "status": "deployed",
			"chartName": "kubernetes", "chartVersion": "0.25.1", "configDigest": "sha256:0", "digest": "sha256:0",
			"firstDeployed": now.UTC().Format(time.RFC3339), "lastDeployed": now.UTC().Format(time.RFC3339),
		}},
	}
	if err := unstructured.SetNestedField(hr.Object, status, "status"); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(ns).UpdateStatus(ctx, hr, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("writing HelmRelease status as Flux would: %v", err)
	}

	eventually(t, 10*time.Second, "Kubernetes reports Ready", func(ctx context.Context) (bool, error) {
		got, err := clusters.Get(ctx, "prod", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == appsv1alpha1.ConditionReady && c.Status == metav1.ConditionTrue {
				return got.Status.Version == "0.25.1" && got.Status.ObservedGeneration == got.Generation, nil
			}
		}
		return false, nil
	})
}
