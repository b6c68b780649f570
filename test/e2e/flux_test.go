package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cozystack/apps-apiserver/test/workloadsim"
)

// The platform loop with the real Flux helm-controller: an object's release is installed from the
// kind's local chart, the chart's workload objects appear under Cozystack's names, the object
// reports Ready, and deleting it uninstalls the release and its workloads.

// workloadObject is one object a chart creates for the kind's example, named as Cozystack's chart
// names it (see artifacts/charts/README.md).
type workloadObject struct {
	gvr  schema.GroupVersionResource
	name string
}

// exampleWorkloads lists what each kind's example in artifacts/examples makes its chart create.
var exampleWorkloads = map[string][]workloadObject{
	"Kubernetes": {
		{workloadsim.Clusters, "kubernetes-dev"},
		{workloadsim.KamajiControlPlanes, "kubernetes-dev"},
		{workloadsim.KubevirtClusters, "kubernetes-dev"},
		{workloadsim.MachineDeployments, "kubernetes-dev-md0"},
		{workloadsim.MachineHealthChecks, "kubernetes-dev-md0"},
	},
	"VirtualMachine": {{workloadsim.VirtualMachines, "vm-instance-web"}},
	"VMDisk":         {{workloadsim.DataVolumes, "vm-disk-web-system"}},
	"Bucket": {
		{workloadsim.BucketClaims, "bucket-backups"},
		{workloadsim.BucketAccesses, "bucket-backups-backup-writer"},
		{workloadsim.BucketAccesses, "bucket-backups-auditor"},
	},
}

// exampleStatusFields are the kind's own status fields its workloads fill once they are up.
var exampleStatusFields = map[string][][]string{
	"Kubernetes":     {{"status", "controlPlaneEndpoint"}, {"status", "kubernetesVersion"}, {"status", "nodeGroups", "md0", "readyReplicas"}},
	"VirtualMachine": {{"status", "printableStatus"}, {"status", "ipAddresses"}, {"status", "nodeName"}},
	"VMDisk":         {{"status", "phase"}},
	"Bucket":         {{"status", "bucketName"}},
}

// exampleCredentials are the credentials subresources of the kinds that have one.
var exampleCredentials = map[string]string{"Kubernetes": "kubeconfig", "Bucket": "credentials"}

func TestFluxInstallsEveryKind(t *testing.T) {
	for _, kc := range allKinds(t) {
		t.Run(kc.kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ns := newTenant(t)
			want, ok := exampleWorkloads[kc.kind]
			if !ok {
				t.Fatalf("no expected workload objects for kind %s: add them to exampleWorkloads", kc.kind)
			}
			obj := kc.example.DeepCopy()
			obj.SetLabels(map[string]string{fluxLabel: "true"})
			client := cp.Dynamic.Resource(kc.resource).Namespace(ns)
			if _, err := client.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			dumpFluxLogOnFailure(t)

			// The test plays the workload controllers for its namespace (as make run's simulator does):
			// the object is Ready once Flux installed it and its workloads are up.
			eventually(t, 90*time.Second, kc.kind+" Ready after Flux installs its release", func(ctx context.Context) (bool, error) {
				if err := workloadsim.Settle(ctx, cp.Dynamic, ns); err != nil {
					return false, err
				}
				got, err := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				status, reason, message := readyCondition(got)
				if status == "False" && reason != "Progressing" {
					return false, fmt.Errorf("Ready=False %s: %s", reason, message)
				}
				return status == "True", fmt.Errorf("Ready=%q %s: %s", status, reason, message)
			})
			for _, w := range want {
				if _, err := cp.Dynamic.Resource(w.gvr).Namespace(ns).Get(ctx, w.name, metav1.GetOptions{}); err != nil {
					t.Errorf("the chart's %s %s: %v", w.gvr.Resource, w.name, err)
				}
			}
			// What the tenant created it for: the credentials the platform issued once it was up.
			if sub, ok := exampleCredentials[kc.kind]; ok {
				if code, body, _ := rawAs(t, "", http.MethodGet, appsPath(ns, kc.resource.Resource, obj.GetName(), sub)); code != http.StatusOK {
					t.Errorf("%s/%s once the workloads are up: %d %s", kc.resource.Resource, sub, code, body)
				}
			}
			// Ready follows the workloads' readiness; fields from other workload objects (a VM's
			// address from its instance) may be projected a moment later.
			eventually(t, 30*time.Second, kc.kind+"'s status fields projected from the workloads", func(ctx context.Context) (bool, error) {
				if err := workloadsim.Settle(ctx, cp.Dynamic, ns); err != nil {
					return false, err
				}
				got, err := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				for _, path := range exampleStatusFields[kc.kind] {
					if v, found, _ := unstructured.NestedFieldNoCopy(got.Object, path...); !found || v == "" {
						return false, fmt.Errorf("status field %v not projected: %v", path, got.Object["status"])
					}
				}
				return true, nil
			})
			out, _ := kubectl(t, false, "wait", "--for=condition=Ready", "--timeout=10s", "-n", ns, kc.resource.Resource+"/"+obj.GetName())
			if out == "" {
				t.Error("kubectl wait printed nothing")
			}

			// Deleting the object uninstalls the release: Flux's finalizer holds the object until
			// Helm has removed the workload objects.
			if err := client.Delete(ctx, obj.GetName(), metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			eventually(t, 60*time.Second, kc.kind+" gone after Flux uninstalls it", func(ctx context.Context) (bool, error) {
				_, err := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
				return apierrors.IsNotFound(err), err
			})
			for _, w := range want {
				if _, err := cp.Dynamic.Resource(w.gvr).Namespace(ns).Get(ctx, w.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("%s %s after uninstall: want 404, got %v", w.gvr.Resource, w.name, err)
				}
			}
		})
	}
}

// readyCondition returns the object's Ready condition's status, reason and message.
func readyCondition(obj *unstructured.Unstructured) (status, reason, message string) {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			s, _ := m["status"].(string)
			r, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			return s, r, msg
		}
	}
	return "", "", ""
}

// dumpFluxLogOnFailure prints helm-controller's log when the test fails, where the reason a release
// did not install is.
func dumpFluxLogOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		if log, err := os.ReadFile(cp.FluxLogPath()); err == nil {
			lines := strings.Split(string(log), "\n")
			t.Logf("helm-controller log (last 100 lines):\n%s", strings.Join(lines[max(0, len(lines)-100):], "\n"))
		}
	})
}
