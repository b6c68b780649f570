package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestCatalogWithKubectl: an operator adds a kind with `kubectl apply -f` and a tenant uses it at
// once with kubectl: kube-apiserver's discovery shows it within seconds (the server marks its
// APIService changed), objects are created, listed with the kind's columns and in the cozy
// category, explained from the served OpenAPI, and the definition describes what became of it.
func TestCatalogWithKubectl(t *testing.T) {
	ns := newTenant(t)
	dir := t.TempDir()
	def := renamedDefinition(t, "postgres", "sprocket", "Sprocket", "sprockets", "sprocket-")
	defFile := writeYAML(t, dir, "definition.yaml", def.Object)
	kubectl(t, false, "apply", "-f", defFile)
	t.Cleanup(func() { deleteDefinition(t, "sprocket") })

	start := time.Now()
	eventually(t, 30*time.Second, "sprockets in kubectl api-resources", func(ctx context.Context) (bool, error) {
		out, err := kubectlOutput(ctx, "api-resources", "--api-group=apps.cozy.io", "-o", "name")
		return strings.Contains(out, "sprockets.apps.cozy.io"), err
	})
	t.Logf("kubectl api-resources showed the new kind %.1fs after kubectl apply", time.Since(start).Seconds())

	obj := map[string]any{"apiVersion": "apps.cozy.io/v1alpha1", "kind": "Sprocket", "metadata": map[string]any{"name": "first"},
		"spec": map[string]any{"replicas": 3}}
	kubectl(t, false, "create", "-n", ns, "-f", writeYAML(t, dir, "sprocket.yaml", obj))
	out, _ := kubectl(t, false, "get", "sprockets", "-n", ns)
	if !strings.Contains(out, "first") || !strings.Contains(out, "READY") || !strings.Contains(out, "VERSION") {
		t.Errorf("kubectl get sprockets:\n%s", out)
	}
	out, _ = kubectl(t, false, "get", "cozy", "-n", ns, "-o", "name")
	if !strings.Contains(out, "sprocket.apps.cozy.io/first") {
		t.Errorf("kubectl get cozy:\n%s", out)
	}
	eventually(t, 30*time.Second, "kubectl explain sprockets.spec", func(ctx context.Context) (bool, error) {
		out, err := kubectlOutput(ctx, "explain", "sprockets.spec.replicas")
		return strings.Contains(out, "integer"), fmt.Errorf("%v: %s", err, out)
	})
	_, stderr := kubectl(t, true, "create", "-n", ns, "-f", writeYAML(t, dir, "bad.yaml", map[string]any{
		"apiVersion": "apps.cozy.io/v1alpha1", "kind": "Sprocket", "metadata": map[string]any{"name": "bad"}, "spec": map[string]any{"replicas": "many"}}))
	if !strings.Contains(stderr, "spec.replicas") {
		t.Errorf("kubectl create with a wrong type: %s", stderr)
	}
	out, _ = kubectl(t, false, "describe", "applicationdefinition", "sprocket")
	if !strings.Contains(out, "Served") && !strings.Contains(out, "SchemaRewritten") {
		t.Errorf("kubectl describe applicationdefinition shows no outcome:\n%s", out)
	}
}

func writeYAML(t *testing.T, dir, name string, obj any) string {
	t.Helper()
	raw, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// kubectlOutput runs kubectl for a condition polled by eventually: failures are results.
func kubectlOutput(ctx context.Context, args ...string) (string, error) {
	dir, err := os.MkdirTemp("", "kubectl-cache-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, os.Getenv("KUBECTL"), args...)
	cmd.Env = kubectlEnv(dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
