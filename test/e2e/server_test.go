package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cozystack/apps-apiserver/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func get(t *testing.T, client *http.Client, path string) (int, string) {
	t.Helper()
	resp, err := client.Get(cp.ServerURL() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestServerEndpoints calls the server directly as the aggregator does (front-proxy certificate
// and identity headers): health endpoints are open, /metrics is authorized through
// SubjectAccessReviews to kube-apiserver's RBAC.
func TestServerEndpoints(t *testing.T) {
	admin, err := cp.FrontProxyClient("admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	nobody, err := cp.FrontProxyClient("nobody")
	if err != nil {
		t.Fatal(err)
	}
	anonymous, err := cp.FrontProxyClient("")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		if code, body := get(t, anonymous, path); code != http.StatusOK || body != "ok" {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	if code, body := get(t, anonymous, "/readyz?verbose"); code != http.StatusOK || !strings.Contains(body, "[+]helmrelease-cache ok") {
		t.Errorf("/readyz?verbose does not report the cache check: %d\n%s", code, body)
	}
	// Every kind's requests are counted, typed and defined, as kube-apiserver counts a CRD's.
	applyDefinition(t, definition(t, "redis"))
	ns := newTenant(t)
	if _, err := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns).List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the defined kind served", func(ctx context.Context) (bool, error) {
		_, err := cp.Dynamic.Resource(gvr("redises")).Namespace(ns).List(ctx, metav1.ListOptions{})
		return err == nil, err
	})
	code, body := get(t, admin, "/metrics")
	if code != http.StatusOK {
		t.Errorf("/metrics as admin: %d", code)
	}
	for _, resource := range []string{"buckets", "redises"} {
		if !strings.Contains(body, `apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps.cozy.io",resource="`+resource+`",scope="namespace",subresource="",verb="LIST",version="v1alpha1"}`) {
			t.Errorf("/metrics counts no LIST of %s", resource)
		}
	}
	if code, _ := get(t, nobody, "/metrics"); code != http.StatusForbidden {
		t.Errorf("/metrics as a user without rights: want 403, got %d", code)
	}
	if code, _ := get(t, anonymous, "/apis/apps.cozy.io/v1alpha1/buckets"); code != http.StatusForbidden && code != http.StatusUnauthorized {
		t.Errorf("anonymous list: want 401 or 403, got %d", code)
	}
}

// TestForeignHelmReleasesIgnored checks that HelmReleases the server did not write (no ownership
// labels) never appear as objects, even when their names look like the server's.
func TestForeignHelmReleasesIgnored(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	hr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
		"metadata": map[string]any{"name": "bucket-foreign", "namespace": ns},
		"spec": map[string]any{
			"interval": "5m",
			"chart":    map[string]any{"spec": map[string]any{"chart": "bucket", "sourceRef": map[string]any{"kind": "HelmRepository", "name": "r"}}},
		},
	}}
	if _, err := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(ns).Create(ctx, hr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A write through the API afterwards proves the cache has seen everything before it.
	if _, err := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns).Create(ctx, loadExample(t, "bucket.yaml"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := cp.Apps.AppsV1alpha1().Buckets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "backups" {
		t.Errorf("want only the API-created bucket, got %d items", len(list.Items))
	}
	if _, err := cp.Apps.AppsV1alpha1().Buckets(ns).Get(ctx, "foreign", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a HelmRelease without ownership labels: want 404, got %v", err)
	}
	// Its name is taken all the same: a dry run says so, as the real create would.
	foreign := loadExample(t, "bucket.yaml")
	foreign.SetName("foreign")
	for _, dryRun := range [][]string{{metav1.DryRunAll}, nil} {
		if _, err := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns).Create(ctx, foreign, metav1.CreateOptions{DryRun: dryRun}); !apierrors.IsAlreadyExists(err) {
			t.Errorf("create (dry run %v) over a foreign release of the same name: want 409, got %v", dryRun, err)
		}
	}
}
