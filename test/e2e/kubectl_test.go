package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestKubectl walks through what a user does with a real kubectl: discover, explain, apply the
// examples, list them with the category, read one as YAML, and delete them.
func TestKubectl(t *testing.T) {
	ns := newTenant(t)
	examples := filepath.Join(repoRoot(), "artifacts", "examples")

	out, _ := kubectl(t, false, "api-resources", "--api-group=apps.cozy.io")
	for _, want := range []string{"kuberneteses", "k8s", "virtualmachines", "cvm", "buckets", "bkt", "apps.cozy.io/v1alpha1"} {
		if !strings.Contains(out, want) {
			t.Errorf("api-resources lacks %q:\n%s", want, out)
		}
	}

	out, _ = kubectl(t, false, "explain", "kubernetes.spec.nodeGroups")
	for _, want := range []string{"minReplicas", "maxReplicas", "instanceType", "keyed by group name"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}

	out, _ = kubectl(t, false, "apply", "-n", ns, "--dry-run=server", "-f", examples)
	if strings.Count(out, "(server dry run)") != len(kinds.All()) {
		t.Errorf("server dry-run apply:\n%s", out)
	}
	if _, stderr := kubectl(t, false, "get", "cozy", "-n", ns); !strings.Contains(stderr, "No resources found") {
		t.Errorf("server dry-run created objects: %s", stderr)
	}

	out, _ = kubectl(t, false, "apply", "-n", ns, "-f", examples)
	for _, want := range []string{"kubernetes.apps.cozy.io/dev created", "virtualmachine.apps.cozy.io/web created", "bucket.apps.cozy.io/backups created"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	out, _ = kubectl(t, false, "apply", "-n", ns, "-f", examples)
	if strings.Count(out, "unchanged") != len(kinds.All()) {
		t.Errorf("re-applying the examples should change nothing:\n%s", out)
	}

	out, _ = kubectl(t, false, "get", "cozy", "-n", ns)
	for _, want := range []string{"READY", "VERSION", "AGE", "K8S", "CONTROL-PLANE", "RUN-STRATEGY", "INSTANCE-TYPE", "STORAGE-POOL",
		"kubernetes.apps.cozy.io/dev", "virtualmachine.apps.cozy.io/web", "vmdisk.apps.cozy.io/web-system", "bucket.apps.cozy.io/backups", "v1.34", "u1.medium", "20Gi"} {
		if !strings.Contains(out, want) {
			t.Errorf("get cozy lacks %q:\n%s", want, out)
		}
	}
	out, _ = kubectl(t, false, "get", "cozy", "-A")
	if !strings.Contains(out, ns) || !strings.Contains(out, "NAMESPACE") {
		t.Errorf("get cozy -A lacks the namespace column:\n%s", out)
	}

	out, _ = kubectl(t, false, "get", "kubernetes", "dev", "-n", ns, "-o", "yaml")
	for _, want := range []string{"apiVersion: apps.cozy.io/v1alpha1", "kind: Kubernetes", "name: dev", "resourceVersion:", "uid:", "md0:", "maxReplicas: 5"} {
		if !strings.Contains(out, want) {
			t.Errorf("get -o yaml lacks %q:\n%s", want, out)
		}
	}

	_, stderr := kubectl(t, true, "apply", "-n", "default", "-f", filepath.Join(examples, "bucket.yaml"))
	if !strings.Contains(stderr, "Forbidden") || !strings.Contains(stderr, "tenant.cozy.io/name") {
		t.Errorf("apply outside a tenant namespace: %s", stderr)
	}

	out, _ = kubectl(t, false, "apply", "-n", ns, "--server-side", "--force-conflicts", "-f", examples)
	if strings.Count(out, "serverside-applied") != len(kinds.All()) {
		t.Errorf("server-side apply:\n%s", out)
	}

	out, _ = kubectl(t, false, "delete", "-n", ns, "-f", examples)
	if strings.Count(out, "deleted") != len(kinds.All()) {
		t.Errorf("delete output:\n%s", out)
	}
	_, stderr = kubectl(t, false, "get", "cozy", "-n", ns)
	if !strings.Contains(stderr, "No resources found") {
		t.Errorf("objects remain after delete: %s", stderr)
	}
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
	cmd.Env = kubectlEnv(t.TempDir())
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
	workloadsUp(t, ns, "bucket-gen", bucketClaimObject)
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

// TestDeployManifestsValidate submits the shipped deployment manifests to the real API in dry-run,
// so a typo in artifacts/deploy fails here rather than in a cluster. The cert-manager resources
// are left out: the test control plane has no cert-manager CRDs.
func TestDeployManifestsValidate(t *testing.T) {
	deploy := filepath.Join(repoRoot(), "artifacts", "deploy")
	for _, file := range []string{"00-namespace.yaml", "10-rbac.yaml", "20-config.yaml", "40-deployment.yaml", "50-apiservice.yaml"} {
		kubectl(t, false, "apply", "--dry-run=server", "--validate=strict", "-f", filepath.Join(deploy, file))
	}
}
