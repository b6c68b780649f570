package e2e

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cozystack/apps-apiserver/test/framework"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// policyWebhook is a real TLS SubjectAccessReview webhook standing for an external policy engine:
// it denies apps.cozy.io writes in namespaces whose name contains "policy" and has no opinion
// otherwise. It counts the reviews it receives.
type policyWebhook struct {
	server     *httptest.Server
	calls      atomic.Int64
	kubeconfig string
}

func newPolicyWebhook(t *testing.T, dir string) *policyWebhook {
	t.Helper()
	w := &policyWebhook{}
	w.server = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.calls.Add(1)
		var review authorizationv1.SubjectAccessReview
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &review); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		if ra := review.Spec.ResourceAttributes; ra != nil && strings.Contains(ra.Namespace, "policy") {
			review.Status = authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "the external policy forbids writes here"}
		}
		_ = json.NewEncoder(rw).Encode(review)
	}))
	t.Cleanup(w.server.Close)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["policy"] = &clientcmdapi.Cluster{Server: w.server.URL,
		CertificateAuthorityData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.server.Certificate().Raw})}
	kc.AuthInfos["policy"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["policy"] = &clientcmdapi.Context{Cluster: "policy", AuthInfo: "policy"}
	kc.CurrentContext = "policy"
	w.kubeconfig = filepath.Join(dir, "policy-webhook.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, w.kubeconfig); err != nil {
		t.Fatal(err)
	}
	return w
}

func authorizationConfig(webhookKubeconfig, failurePolicy string) string {
	return fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: AuthorizationConfiguration
authorizers:
- type: Webhook
  name: external-policy
  webhook:
    timeout: 2s
    subjectAccessReviewVersion: v1
    matchConditionSubjectAccessReviewVersion: v1
    failurePolicy: %s
    authorizedTTL: 5s
    unauthorizedTTL: 5s
    connectionInfo:
      type: KubeConfigFile
      kubeConfigFile: %s
    matchConditions:
    - expression: has(request.resourceAttributes) && request.resourceAttributes.group == 'apps.cozy.io' && request.resourceAttributes.verb in ['create', 'update', 'patch', 'delete']
- type: Webhook
  name: kube-apiserver
  webhook:
    timeout: 2s
    subjectAccessReviewVersion: v1
    matchConditionSubjectAccessReviewVersion: v1
    failurePolicy: Deny
    authorizedTTL: 1s
    unauthorizedTTL: 1s
    connectionInfo:
      type: InClusterConfig
`, failurePolicy, webhookKubeconfig)
}

// writeAtomically replaces a file the way a ConfigMap update does, so the watcher never reads
// half a file.
func writeAtomically(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestStructuredAuthorization runs a replica with --authorization-config: an external webhook
// matched by a CEL condition, then delegation to kube-apiserver, with failure policies, caching
// and reload.
func TestStructuredAuthorization(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	webhook := newPolicyWebhook(t, dir)
	configPath := filepath.Join(dir, "authz.yaml")
	writeAtomically(t, configPath, authorizationConfig(webhook.kubeconfig, "Deny"))

	replica, err := cp.StartReplica(ctx, "authz", "--authorization-config="+configPath)
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	policyNS, plainNS := newTenant(t)+"-policy", newTenant(t)
	if err := cp.CreateNamespace(ctx, policyNS, "p"); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{policyNS, plainNS} {
		bindRole(t, ns, "admin", "erin")
	}
	mustCreate(t, cp.Dynamic.Resource(targets()[0].resource).Namespace(policyNS), targets()[0].object("existing"))
	client := func(ns string) dynamic.ResourceInterface {
		cfg, err := cp.ReplicaConfig(replica, "erin", "system:authenticated")
		if err != nil {
			t.Fatal(err)
		}
		return dynamic.NewForConfigOrDie(cfg).Resource(targets()[0].resource).Namespace(ns)
	}
	eventually(t, 15*time.Second, "erin's RBAC honoured through InClusterConfig delegation", func(ctx context.Context) (bool, error) {
		_, err := client(policyNS).Get(ctx, "existing", metav1.GetOptions{})
		return err == nil, err
	})
	if n := webhook.calls.Load(); n != 0 {
		t.Errorf("the match condition should skip the policy webhook for reads; it was called %d times", n)
	}

	_, err = client(policyNS).Create(ctx, targets()[0].object("denied"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "external policy forbids") {
		t.Fatalf("write in a policy namespace: want the webhook's 403, got %v", err)
	}
	calls := webhook.calls.Load()
	if calls == 0 {
		t.Fatal("the policy webhook was not asked about a write")
	}
	if _, err := client(policyNS).Create(ctx, targets()[0].object("denied"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("repeated write: want 403, got %v", err)
	}
	if webhook.calls.Load() != calls {
		t.Errorf("a denial within unauthorizedTTL asked the webhook again (%d → %d calls)", calls, webhook.calls.Load())
	}
	if _, err := client(plainNS).Create(ctx, targets()[0].object("allowed"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("write elsewhere: the webhook has no opinion and RBAC allows, got %v", err)
	}

	// The webhook goes down: failurePolicy Deny refuses what it would have been asked (a delete:
	// the create's "no opinion" is still cached for unauthorizedTTL).
	webhook.server.Close()
	if err := client(plainNS).Delete(ctx, "allowed", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("webhook down with failurePolicy Deny: want 403, got %v", err)
	}

	// Reload with failurePolicy NoOpinion: the same write falls through to kube-apiserver's RBAC.
	writeAtomically(t, configPath, authorizationConfig(webhook.kubeconfig, "NoOpinion"))
	eventually(t, 15*time.Second, "reloaded chain allows the write", func(ctx context.Context) (bool, error) {
		err := client(plainNS).Delete(ctx, "allowed", metav1.DeleteOptions{})
		return err == nil || apierrors.IsNotFound(err), err
	})

	// An invalid file is refused; the previous chain keeps deciding, and the failure is counted.
	writeAtomically(t, configPath, "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n- type: RBAC\n  name: rbac\n")
	eventually(t, 15*time.Second, "reload failure counted", func(ctx context.Context) (bool, error) {
		metrics, err := replicaMetrics(ctx, replica)
		return strings.Contains(metrics, `apiserver_authorization_config_controller_automatic_reloads_total{`) &&
			strings.Contains(metrics, `status="failure"`), err
	})
	if _, err := client(plainNS).Patch(ctx, "after-bad-reload", "application/merge-patch+json", []byte(`{}`), metav1.PatchOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after an invalid reload the previous chain should still let the patch through to a 404: %v", err)
	}
	metrics, err := replicaMetrics(ctx, replica)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiserver_authorization_decisions_total", `name="external-policy"`, "apiserver_authorization_webhook_evaluations_total", "apiserver_authorization_match_condition_evaluation"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func replicaMetrics(ctx context.Context, replica *framework.CozyServer) (string, error) {
	cfg, err := cp.ReplicaConfig(replica, "admin", "system:masters")
	if err != nil {
		return "", err
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return "", err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, replica.URL()+"/metrics", nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}
