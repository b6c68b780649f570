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

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

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
func repoRoot(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test sources")
	}
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
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cp.KubeconfigPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if (err != nil) != wantErr {
		t.Fatalf("kubectl %s: err=%v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
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
		c := kindCase{kind: k.Kind, resource: gvr(k.Resource), prefix: k.ReleasePrefix, example: loadExample(t, strings.ToLower(k.Kind)+".yaml")}
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
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "artifacts", "examples", file))
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

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// kindByName returns the built-in description of a kind.
func kindByName(t *testing.T, name string) *release.Kind {
	t.Helper()
	k := kinds.ByName(name)
	if k == nil {
		t.Fatalf("no kind %s", name)
	}
	return k
}
