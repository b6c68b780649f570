package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/generated/clientset/versioned"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// Behaviours a CRD cannot have because it has no backing object: the HelmRelease's foreign
// fields, Flux's finalizer and status, replicas and the shared upstream watch.

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

// TestUpdatesKeepForeignReleaseFields sets what Flux and other tools put on a HelmRelease, then
// updates the object every way a client can, and checks nothing foreign was lost.
func TestUpdatesKeepForeignReleaseFields(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	buckets := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	mustCreate(t, buckets, targets()[0].object("keep"))

	hrs := releases(ns)
	hr := hrs.get(t, "bucket-keep")
	hr.SetFinalizers(append(hr.GetFinalizers(), release.FluxFinalizer))
	labels := hr.GetLabels()
	labels["sharding.fluxcd.io/key"] = "shard-2"
	hr.SetLabels(labels)
	hr.SetAnnotations(map[string]string{"reconcile.fluxcd.io/requestedAt": "now"})
	_ = unstructured.SetNestedField(hr.Object, true, "spec", "suspend")
	_ = unstructured.SetNestedField(hr.Object, int64(7), "spec", "install", "remediation", "retries")
	hrs.update(t, hr)

	obj := mustGet(t, buckets, "keep")
	if _, ok := obj.GetLabels()["sharding.fluxcd.io/key"]; ok || len(obj.GetAnnotations()) != 0 || len(obj.GetFinalizers()) != 0 {
		t.Errorf("Flux's keys are visible to the user: labels %v annotations %v finalizers %v", obj.GetLabels(), obj.GetAnnotations(), obj.GetFinalizers())
	}
	obj.SetLabels(map[string]string{"team": "red"})
	_ = unstructured.SetNestedField(obj.Object, true, "spec", "locking")
	if _, err := buckets.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}
	if _, err := buckets.Patch(ctx, "keep", types.MergePatchType, []byte(`{"metadata":{"annotations":{"note":"x"}},"spec":{"users":{"extra":{}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch: %v", err)
	}
	if _, err := buckets.Apply(ctx, "keep", targets()[0].object("keep"), metav1.ApplyOptions{FieldManager: "ci", Force: true}); err != nil {
		t.Fatalf("apply: %v", err)
	}

	hr = hrs.get(t, "bucket-keep")
	if !slices.Contains(hr.GetFinalizers(), release.FluxFinalizer) {
		t.Errorf("Flux's finalizer was dropped: %v", hr.GetFinalizers())
	}
	if hr.GetLabels()["sharding.fluxcd.io/key"] != "shard-2" || hr.GetLabels()[release.StoredKey("team")] != "red" || hr.GetLabels()[release.LabelApplicationKind] != "Bucket" {
		t.Errorf("HelmRelease labels: %v", hr.GetLabels())
	}
	if hr.GetAnnotations()["reconcile.fluxcd.io/requestedAt"] != "now" || hr.GetAnnotations()[release.StoredKey("note")] != "x" {
		t.Errorf("HelmRelease annotations: %v", hr.GetAnnotations())
	}
	if suspend, _, _ := unstructured.NestedBool(hr.Object, "spec", "suspend"); !suspend {
		t.Error("spec.suspend was dropped")
	}
	if retries, _, _ := unstructured.NestedInt64(hr.Object, "spec", "install", "remediation", "retries"); retries != 7 {
		t.Error("spec.install.remediation.retries was dropped")
	}
	if locking, found, _ := unstructured.NestedBool(hr.Object, "spec", "values", "locking"); !found || locking {
		t.Errorf("values.locking = %v (found %v) after the final apply", locking, found)
	}

	forged := mustGet(t, buckets, "keep")
	forged.SetLabels(map[string]string{"sharding.fluxcd.io/key": "shard-1"})
	if _, err := buckets.Update(ctx, forged, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("setting Flux's sharding label: want 422, got %v", err)
	}
	forged = mustGet(t, buckets, "keep")
	forged.SetFinalizers([]string{release.FluxFinalizer})
	if _, err := buckets.Update(ctx, forged, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("setting Flux's finalizer: want 422, got %v", err)
	}

	// Deleting waits for Flux: the object stays, marked for deletion, until Flux lets go.
	if err := buckets.Delete(ctx, "keep", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, buckets, "keep"); got.GetDeletionTimestamp() == nil {
		t.Error("object being uninstalled has no deletionTimestamp")
	}
	hr = hrs.get(t, "bucket-keep")
	hr.SetFinalizers(nil)
	hrs.update(t, hr)
	eventually(t, 10*time.Second, "object gone once Flux removed its finalizer", func(ctx context.Context) (bool, error) {
		_, err := buckets.Get(ctx, "keep", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}

// TestFluxStatusWritesDoNotFailPatches writes HelmRelease status continuously, as Flux does while
// reconciling, and checks that client patches and a delete (which carry no resourceVersion) all
// succeed.
func TestFluxStatusWritesDoNotFailPatches(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := newTenant(t)
	buckets := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	mustCreate(t, buckets, targets()[0].object("busy"))

	var wg sync.WaitGroup
	var statusWrites int
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(ns)
		for i := 0; ctx.Err() == nil; i++ {
			hr, err := client.Get(ctx, "bucket-busy", metav1.GetOptions{})
			if err != nil {
				continue
			}
			_ = unstructured.SetNestedField(hr.Object, fmt.Sprint("attempt-", i), "status", "lastAttemptedRevision")
			if _, err := client.UpdateStatus(ctx, hr, metav1.UpdateOptions{}); err == nil {
				statusWrites++
			}
		}
	}()
	for i := 0; i < 50; i++ {
		if _, err := buckets.Patch(ctx, "busy", types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"labels":{"i":"%d"}}}`, i)), metav1.PatchOptions{}); err != nil {
			t.Fatalf("patch %d during Flux status writes: %v", i, err)
		}
	}
	if got := mustGet(t, buckets, "busy"); got.GetLabels()["i"] != "49" {
		t.Errorf("last patch lost: %v", got.GetLabels())
	}
	if err := buckets.Delete(ctx, "busy", metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete during Flux status writes: %v", err)
	}
	cancel()
	wg.Wait()
	if statusWrites < 10 {
		t.Fatalf("only %d status writes happened: the test did not race", statusWrites)
	}
}

// TestStrategicMergePatch merges list items by their keys, as for built-in types (CRDs cannot).
func TestStrategicMergePatch(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	vms := cp.Apps.AppsV1alpha1().VirtualMachines(ns)
	vm := &appsv1alpha1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "vm"},
		Spec: &appsv1alpha1.VirtualMachineSpec{
			Disks:         []appsv1alpha1.DiskAttachment{{Name: ptr.To("a"), Bus: ptr.To("virtio")}, {Name: ptr.To("b")}},
			ExternalPorts: []int32{22},
		},
	}
	if _, err := vms.Create(ctx, vm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := vms.Patch(ctx, "vm", types.StrategicMergePatchType, []byte(`{"spec":{"disks":[{"name":"b","bus":"sata"},{"name":"c"}],"externalPorts":[443]}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	buses := map[string]string{}
	for _, d := range got.Spec.Disks {
		buses[ptr.Deref(d.Name, "")] = ptr.Deref(d.Bus, "")
	}
	if len(buses) != 3 || buses["a"] != "virtio" || buses["b"] != "sata" || buses["c"] != "" {
		t.Errorf("disks after a strategic merge patch: %v", buses)
	}
	if ports := got.Spec.ExternalPorts; len(ports) != 2 || !slices.Contains(ports, 22) || !slices.Contains(ports, 443) {
		t.Errorf("ports after a strategic merge patch: %v (want the union of 22 and 443)", ports)
	}
}

// TestBookmarks checks that a watch that allows bookmarks receives them while idle.
func TestBookmarks(t *testing.T) {
	ns := newTenant(t)
	list, err := cp.Apps.AppsV1alpha1().Buckets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cp.Apps.AppsV1alpha1().Buckets(ns).Watch(context.Background(), metav1.ListOptions{ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case e := <-w.ResultChan():
		b, ok := e.Object.(*appsv1alpha1.Bucket)
		if e.Type != watch.Bookmark || !ok || b.ResourceVersion == "" {
			t.Errorf("want a bookmark with a resourceVersion, got %s %v", e.Type, e.Object)
		}
	case <-time.After(10 * time.Second):
		t.Error("no bookmark within 10s (the test server sends them every second)")
	}
}

// TestReadYourWritesAcrossReplicas writes through one replica (behind the APIService) and reads
// through another, as clients of a two-replica Deployment do.
func TestReadYourWritesAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	replica, err := cp.StartReplica(ctx, "replica-b")
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	cfg, err := cp.ReplicaConfig(replica, "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	other, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := newTenant(t)
	writer := cp.Apps.AppsV1alpha1().Buckets(ns)
	reader := other.AppsV1alpha1().Buckets(ns)
	for i := 0; i < 50; i++ {
		b := &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("b", i)}}
		created, err := writer.Create(ctx, b, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := reader.Get(ctx, b.Name, metav1.GetOptions{})
		if err != nil || got.ResourceVersion != created.ResourceVersion {
			t.Fatalf("replica B after write %d: %v", i, err)
		}
		list, err := reader.List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != i+1 {
			t.Fatalf("replica B list after write %d: %v, %d items", i, err, len(list.Items))
		}
	}
}

// TestOneUpstreamWatch opens many client watches over every kind and checks kube-apiserver still
// serves the server exactly one HelmRelease watch.
func TestOneUpstreamWatch(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	for i := 0; i < 10; i++ {
		for _, w := range []func() (watch.Interface, error){
			func() (watch.Interface, error) {
				return cp.Apps.AppsV1alpha1().Buckets(ns).Watch(ctx, metav1.ListOptions{})
			},
			func() (watch.Interface, error) {
				return cp.Apps.AppsV1alpha1().Kuberneteses("").Watch(ctx, metav1.ListOptions{})
			},
			func() (watch.Interface, error) {
				return cp.Apps.AppsV1alpha1().VirtualMachines(ns).Watch(ctx, metav1.ListOptions{})
			},
		} {
			watcher, err := w()
			if err != nil {
				t.Fatal(err)
			}
			defer watcher.Stop()
		}
	}
	eventually(t, 20*time.Second, "exactly one HelmRelease watch at kube-apiserver", func(ctx context.Context) (bool, error) {
		n, err := cp.UpstreamWatches(ctx, "helmreleases")
		if err != nil {
			return false, err
		}
		return n == 1, fmt.Errorf("%d HelmRelease watches", n)
	})
}

// TestKubectlWatchAndWait runs `kubectl get -w` while objects change, and `kubectl wait` against
// a Ready condition that belongs to an older generation.
func TestKubectlWatchAndWait(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	buckets := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)

	watchCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(watchCtx, os.Getenv("KUBECTL"), "get", "buckets", "-n", ns, "-w", "--output-watch-events")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cp.KubeconfigPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
	}()
	expectLine := func(want ...string) {
		t.Helper()
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("kubectl get -w ended before %v", want)
				}
				matched := true
				for _, w := range want {
					matched = matched && strings.Contains(line, w)
				}
				if matched {
					return
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("kubectl get -w printed no line with %v", want)
			}
		}
	}
	// Wait until kubectl's watch is established, then change things.
	eventually(t, 15*time.Second, "kubectl watch open", func(ctx context.Context) (bool, error) {
		mustCreate(t, buckets, targets()[0].object(fmt.Sprint("probe-", time.Now().UnixNano())))
		select {
		case line := <-lines:
			return strings.Contains(line, "ADDED"), nil
		case <-time.After(time.Second):
			return false, nil
		}
	})
	mustCreate(t, buckets, targets()[0].object("watched"))
	expectLine("ADDED", "watched")
	if _, err := buckets.Patch(ctx, "watched", types.MergePatchType, []byte(`{"spec":{"locking":true}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	expectLine("MODIFIED", "watched", "true")
	if err := buckets.Delete(ctx, "watched", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expectLine("DELETED", "watched")

	// Ready for generation 1, then the spec changes: kubectl wait must not accept the stale Ready.
	mustCreate(t, buckets, targets()[0].object("gen"))
	markReady(t, ns, "bucket-gen")
	kubectl(t, false, "wait", "-n", ns, "bucket/gen", "--for=condition=Ready", "--timeout=10s")
	if _, err := buckets.Patch(ctx, "gen", types.MergePatchType, []byte(`{"spec":{"locking":true}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, buckets, "gen"); got.GetGeneration() != 2 {
		t.Fatalf("generation after a spec change = %d", got.GetGeneration())
	}
	if _, stderr := kubectl(t, true, "wait", "-n", ns, "bucket/gen", "--for=condition=Ready", "--timeout=2s"); !strings.Contains(stderr, "timed out waiting for the condition") {
		t.Errorf("kubectl wait on a Ready of an older generation: want a timeout, got %s", stderr)
	}
	markReady(t, ns, "bucket-gen")
	kubectl(t, false, "wait", "-n", ns, "bucket/gen", "--for=condition=Ready", "--timeout=10s")
	if got := mustGet(t, buckets, "gen"); got.GetGeneration() != 2 {
		t.Errorf("a status change moved generation to %d", got.GetGeneration())
	}
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
