package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/test/workloadsim"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

func expectEvent(t *testing.T, w watch.Interface, typ watch.EventType, name string) {
	t.Helper()
	select {
	case e, ok := <-w.ResultChan():
		if !ok {
			t.Fatalf("watch closed while waiting for %s %s", typ, name)
		}
		obj, _ := e.Object.(*unstructured.Unstructured)
		if e.Type != typ || obj == nil || obj.GetName() != name {
			t.Fatalf("watch: want %s %s, got %s %v", typ, name, e.Type, e.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("watch: no %s event for %s within 10s", typ, name)
	}
}

// expectWatchEnds waits for the server to end a watch, reading past any events before the end.
func expectWatchEnds(t *testing.T, w watch.Interface) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case _, open := <-w.ResultChan():
			if !open {
				return
			}
		case <-deadline:
			t.Fatal("the server did not end the watch")
		}
	}
}

var namespaceSeq atomic.Int64

// newTenant creates a fresh tenant namespace for one test.
func newTenant(t *testing.T) string {
	t.Helper()
	clean := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()))
	name := fmt.Sprintf("tenant-%s-%d", clean, namespaceSeq.Add(1))
	if len(name) > 63 {
		name = fmt.Sprintf("tenant-%d", namespaceSeq.Add(1))
	}
	if err := cp.CreateNamespace(context.Background(), name, "t"+fmt.Sprint(namespaceSeq.Load())); err != nil {
		t.Fatalf("creating tenant namespace: %v", err)
	}
	return name
}

// eventually polls cond until it holds, failing the test after timeout with cond's last error.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		if err != nil {
			last = err
		}
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %v (last error: %v)", what, timeout, last)
	}
}

// repoRoot is the checkout the test module lives in.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// kubectl runs the real kubectl against the control plane and returns its stdout; it fails the
// test when kubectl fails, unless wantErr.
func kubectl(t *testing.T, wantErr bool, args ...string) (string, string) {
	t.Helper()
	bin := os.Getenv("KUBECTL")
	if bin == "" {
		t.Fatal("KUBECTL must name a kubectl binary (make test builds one into bin/)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = kubectlEnv(t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if (err != nil) != wantErr {
		t.Fatalf("kubectl %s: err=%v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// kubectlEnv is kubectl's environment: this control plane's kubeconfig, and a discovery cache of
// its own in cacheDir. kubectl keeps discovery for hours in ~/.kube/cache by default, so kinds a
// test (or an earlier run) defined and removed would stay in `kubectl get cozy` and fail it.
func kubectlEnv(cacheDir string) []string {
	return append(os.Environ(), "KUBECONFIG="+cp.KubeconfigPath, "KUBECACHEDIR="+cacheDir)
}

// kindCase is one kind with the GVR and an example object from artifacts/examples.
type kindCase struct {
	kind     string
	resource schema.GroupVersionResource
	prefix   string
	example  *unstructured.Unstructured
}

func allKinds(t *testing.T) []kindCase {
	t.Helper()
	var cases []kindCase
	for _, k := range kinds.All() {
		c := kindCase{kind: k.Kind, resource: gvr(k.Resource), prefix: k.Layout.ReleasePrefix, example: loadExample(t, strings.ToLower(k.Kind)+".yaml")}
		if c.example.GetKind() != c.kind {
			t.Fatalf("example for %s has kind %s", c.kind, c.example.GetKind())
		}
		cases = append(cases, c)
	}
	return cases
}

func gvr(resource string) schema.GroupVersionResource {
	return appsv1alpha1.SchemeGroupVersion.WithResource(resource)
}

func loadExample(t *testing.T, file string) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "artifacts", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

// helmRelease reads the HelmRelease that stores an object, straight from kube-apiserver.
func helmRelease(ctx context.Context, namespace, name string) (*unstructured.Unstructured, error) {
	return cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
}

// equalJSON compares two values by their JSON encoding, so typed and decoded values compare.
func equalJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// kindByName returns the built-in description of a kind.
func kindByName(t *testing.T, name string) *release.Kind {
	t.Helper()
	k := kinds.ByName(name)
	if k == nil {
		t.Fatalf("no kind %s", name)
	}
	return k
}

func bindRole(t *testing.T, ns, role, user string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-" + role, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
	}
	if _, err := cp.Kube.RbacV1().RoleBindings(ns).Create(context.Background(), rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func splitPath(path string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == '.' {
			out = append(out, path[start:i])
			start = i + 1
		}
	}
	return out
}

// target is an API the semantics suite runs against: the apps.cozy.io Bucket and its CRD twin
// served by kube-apiserver. Every comparison test runs the same steps and assertions on both.
type target struct {
	name     string
	resource schema.GroupVersionResource
	virtual  bool
}

func targets() []target {
	return []target{
		{name: "virtual", resource: gvr("buckets"), virtual: true},
		{name: "crd", resource: schema.GroupVersionResource{Group: twinGroup, Version: "v1alpha1", Resource: "buckets"}},
	}
}

// object is a valid Bucket of the target's group.
func (tg target) object(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": tg.resource.GroupVersion().String(), "kind": "Bucket",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"storagePool": "default", "locking": false},
	}}
}

// compare runs fn against every target, each in a fresh tenant namespace.
func compare(t *testing.T, fn func(t *testing.T, tg target, c dynamic.ResourceInterface, ns string)) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			ns := newTenant(t)
			fn(t, tg, cp.Dynamic.Resource(tg.resource).Namespace(ns), ns)
		})
	}
}

func mustCreate(t *testing.T, c dynamic.ResourceInterface, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	created, err := c.Create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s: %v", obj.GetName(), err)
	}
	return created
}

func mustGet(t *testing.T, c dynamic.ResourceInterface, name string) *unstructured.Unstructured {
	t.Helper()
	got, err := c.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return got
}

func kubernetesObject(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps.cozy.io/v1alpha1", "kind": "Kubernetes",
		"metadata": map[string]any{"name": name}, "spec": spec,
	}}
}

func statusCauses(err error) []string {
	var out []string
	if s, ok := err.(apierrors.APIStatus); ok && s.Status().Details != nil {
		for _, c := range s.Status().Details.Causes {
			out = append(out, c.Field+": "+c.Message)
		}
	}
	return out
}

// seedRelease writes a HelmRelease as cozystack-api writes one (its labels, its prefix, the
// chart as an ExternalArtifact, values as given with no defaults, none of this server's
// annotations), e.g. with values today's schema refuses.
func seedRelease(t *testing.T, kind, ns, name string, values map[string]any) {
	t.Helper()
	k := kindByName(t, kind)
	hr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
		"metadata": map[string]any{
			"name": k.Layout.ReleasePrefix + name, "namespace": ns,
			"labels": map[string]any{
				"apps.cozystack.io/application.kind": k.ApplicationKind, "apps.cozystack.io/application.group": "apps.cozystack.io",
				"apps.cozystack.io/application.name": name, "sharding.fluxcd.io/key": "tenants",
			},
		},
		"spec": map[string]any{
			"interval":   "5m",
			"maxHistory": int64(5),
			"chartRef":   map[string]any{"kind": "ExternalArtifact", "name": k.Layout.Chart.ChartRef.Name, "namespace": "cozy-system"},
			"install":    map[string]any{"strategy": map[string]any{"name": "RetryOnFailure", "retryInterval": "30s"}},
			"upgrade":    map[string]any{"strategy": map[string]any{"name": "RetryOnFailure", "retryInterval": "30s"}},
			"valuesFrom": []any{map[string]any{"kind": "Secret", "name": "cozystack-values"}},
			"values":     values,
		},
	}}
	if _, err := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(ns).Create(context.Background(), hr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func releases(ns string) dynamicReleases { return dynamicReleases{ns} }

type dynamicReleases struct{ ns string }

func (d dynamicReleases) get(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	hr, err := helmRelease(context.Background(), d.ns, name)
	if err != nil {
		t.Fatalf("HelmRelease %s: %v", name, err)
	}
	return hr
}

func (d dynamicReleases) update(t *testing.T, hr *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	out, err := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(d.ns).Update(context.Background(), hr, metav1.UpdateOptions{FieldManager: "helm-controller"})
	if err != nil {
		t.Fatalf("updating HelmRelease %s: %v", hr.GetName(), err)
	}
	return out
}

// markReady plays Flux: it reports the release Ready for its current generation.
func markReady(t *testing.T, ns, name string) {
	t.Helper()
	hr := releases(ns).get(t, name)
	status := map[string]any{
		"observedGeneration": hr.GetGeneration(),
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "UpgradeSucceeded", "message": "ok",
			"observedGeneration": hr.GetGeneration(), "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}},
	}
	_ = unstructured.SetNestedField(hr.Object, status, "status")
	if _, err := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(ns).UpdateStatus(context.Background(), hr, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("marking %s Ready: %v", name, err)
	}
}

// helmOwned marks an object as written by Helm for the release, as the charts' objects are. The
// keys are written out here, not taken from the server's code: the tests play Helm.
func helmOwned(releaseName, ns string) map[string]string {
	return map[string]string{"meta.helm.sh/release-name": releaseName, "meta.helm.sh/release-namespace": ns}
}

// chartObject is a workload object a kind's chart creates, in its minimal valid form.
type chartObject struct {
	gvr  schema.GroupVersionResource
	kind string
	spec map[string]any
}

// The charts' objects the tests that play Flux by hand need.
var (
	bucketClaimObject        = chartObject{workloadsim.BucketClaims, "BucketClaim", map[string]any{"protocols": []any{"S3"}}}
	clusterObject            = chartObject{workloadsim.Clusters, "Cluster", map[string]any{}}
	kamajiControlPlaneObject = chartObject{workloadsim.KamajiControlPlanes, "KamajiControlPlane", map[string]any{"replicas": int64(1), "version": "v1.34.3"}}
)

// workloadsUp creates the release's workload objects as Helm would (named after the release, with
// Helm's annotations) and writes the statuses their controllers write once they are up, so the
// object's Ready can follow Flux's.
func workloadsUp(t *testing.T, ns, releaseName string, objects ...chartObject) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objects {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": o.gvr.GroupVersion().String(), "kind": o.kind,
			"metadata": map[string]any{"name": releaseName, "namespace": ns},
			"spec":     o.spec,
		}}
		obj.SetAnnotations(helmOwned(releaseName, ns))
		if _, err := cp.Dynamic.Resource(o.gvr).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s %s as its chart would: %v", o.kind, releaseName, err)
		}
	}
	if err := workloadsim.Settle(ctx, cp.Dynamic, ns); err != nil {
		t.Fatal(err)
	}
	// The server records the workloads' state on the release; writes to the release that follow
	// (a test playing Flux) then start from that revision.
	eventually(t, 30*time.Second, "workload state of "+releaseName+" recorded", func(ctx context.Context) (bool, error) {
		hr, err := helmRelease(ctx, ns, releaseName)
		if err != nil {
			return false, err
		}
		state, err := release.ReadWorkloadState(hr)
		return err == nil && state != nil && state.Ready, err
	})
}

// awaitNamespaceGone waits until the deleted namespace is gone, failing with the conditions that
// hold it.
func awaitNamespaceGone(t *testing.T, ns string) {
	t.Helper()
	eventually(t, 90*time.Second, "the namespace is gone", func(ctx context.Context) (bool, error) {
		got, err := cp.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		var why []string
		for _, c := range got.Status.Conditions {
			if c.Status == "True" {
				why = append(why, c.Message)
			}
		}
		return false, fmt.Errorf("still %s: %v", got.Status.Phase, why)
	})
}
