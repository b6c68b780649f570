package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
)

// TestKubectl walks through what a user does with a real kubectl: discover, explain, apply the
// examples, list them with the category, read one as YAML, and delete them.
func TestKubectl(t *testing.T) {
	ns := newTenant(t)
	examples := filepath.Join(repoRoot(t), "artifacts", "examples")

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

// TestDeployManifestsValidate submits the shipped deployment manifests to the real API in dry-run,
// so a typo in artifacts/deploy fails here rather than in a cluster. The cert-manager resources
// are left out: the test control plane has no cert-manager CRDs.
func TestDeployManifestsValidate(t *testing.T) {
	deploy := filepath.Join(repoRoot(t), "artifacts", "deploy")
	for _, file := range []string{"00-namespace.yaml", "10-rbac.yaml", "20-config.yaml", "40-deployment.yaml", "50-apiservice.yaml"} {
		kubectl(t, false, "apply", "--dry-run=server", "--validate=strict", "-f", filepath.Join(deploy, file))
	}
}
