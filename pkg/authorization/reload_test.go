package authorization

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/rest"
)

const webhookKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: policy
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: policy
contexts:
- name: policy
  context: {cluster: policy, user: policy}
current-context: policy
`

func config(apiVersion, kubeconfigPath string) string {
	return `apiVersion: apiserver.config.k8s.io/` + apiVersion + `
kind: AuthorizationConfiguration
authorizers:
- type: Webhook
  name: policy
  webhook:
    timeout: 1s
    subjectAccessReviewVersion: v1
    matchConditionSubjectAccessReviewVersion: v1
    failurePolicy: NoOpinion
    authorizedTTL: 1s
    unauthorizedTTL: 1s
    connectionInfo: {type: KubeConfigFile, kubeConfigFile: ` + kubeconfigPath + `}
    matchConditions:
    - expression: request.user != 'nobody'
- type: Webhook
  name: kube
  webhook:
    timeout: 1s
    subjectAccessReviewVersion: v1
    matchConditionSubjectAccessReviewVersion: v1
    failurePolicy: Deny
    authorizedTTL: 1s
    unauthorizedTTL: 1s
    connectionInfo: {type: InClusterConfig}
`
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadsV1AndV1beta1(t *testing.T) {
	dir := t.TempDir()
	kc := write(t, dir, "kubeconfig", webhookKubeconfig)
	for _, version := range []string{"v1", "v1beta1"} {
		path := write(t, dir, version+".yaml", config(version, kc))
		r, err := New(path, "test", &rest.Config{Host: "https://127.0.0.1:2"}, []string{"/healthz"})
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		// system:masters and the always-allowed paths decide before any webhook is asked.
		d, _, err := r.Authorize(context.Background(), authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "root", Groups: []string{user.SystemPrivilegedGroup}}, Verb: "delete", ResourceRequest: true, Resource: "buckets"})
		if d != authorizer.DecisionAllow || err != nil {
			t.Errorf("%s: system:masters: %v %v", version, d, err)
		}
		d, _, _ = r.Authorize(context.Background(), authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "anyone"}, Verb: "get", Path: "/healthz"})
		if d != authorizer.DecisionAllow {
			t.Errorf("%s: /healthz: %v", version, d)
		}
	}
}

func TestStartUpErrors(t *testing.T) {
	dir := t.TempDir()
	kc := write(t, dir, "kubeconfig", webhookKubeconfig)
	for name, tc := range map[string]struct{ content, want string }{
		"unsupported type": {"apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n- type: RBAC\n  name: rbac\n", "RBAC"},
		"negative TTL":     {strings.Replace(config("v1", kc), "authorizedTTL: 1s", "authorizedTTL: -1s", 1), "authorizedTTL"},
		"bad CEL":          {strings.Replace(config("v1", kc), "request.user != 'nobody'", "request.nope(", 1), "matchConditions"},
		"not YAML":         {"{", "couldn't get version/kind"},
	} {
		path := write(t, dir, strings.ReplaceAll(name, " ", "-")+".yaml", tc.content)
		_, err := New(path, "test", &rest.Config{Host: "https://127.0.0.1:2"}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error mentioning %q, got %v", name, tc.want, err)
		}
	}
}

func TestInvalidReloadKeepsTheChain(t *testing.T) {
	dir := t.TempDir()
	kc := write(t, dir, "kubeconfig", webhookKubeconfig)
	path := write(t, dir, "authz.yaml", config("v1", kc))
	r, err := New(path, "test", &rest.Config{Host: "https://127.0.0.1:2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := r.current.Load()
	write(t, dir, "authz.yaml", "kind: Nonsense\n")
	r.Reload(context.Background())
	if r.current.Load() != before {
		t.Error("an invalid file replaced the chain")
	}
	write(t, dir, "authz.yaml", strings.Replace(config("v1", kc), "failurePolicy: NoOpinion", "failurePolicy: Deny", 1))
	r.Reload(context.Background())
	if r.current.Load() == before {
		t.Error("a valid change did not replace the chain")
	}
}

// TestShippedExample keeps artifacts/authorization/authorization-config.yaml valid.
func TestShippedExample(t *testing.T) {
	dir := t.TempDir()
	kc := write(t, dir, "kubeconfig", webhookKubeconfig)
	raw, err := os.ReadFile(filepath.Join("..", "..", "artifacts", "authorization", "authorization-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := write(t, dir, "example.yaml", strings.Replace(string(raw), "/etc/cozy-apiserver/policy-webhook.kubeconfig", kc, 1))
	if _, err := New(path, "test", &rest.Config{Host: "https://127.0.0.1:2"}, nil); err != nil {
		t.Errorf("the shipped example is invalid: %v", err)
	}
}
