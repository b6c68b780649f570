package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/generated/clientset/versioned/scheme"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/test/workloadsim"
)

// What tenants create things for, as subresources with their own RBAC: alice (admin in her tenant)
// gets her cluster's kubeconfig and her bucket's credentials and starts, stops and restarts her VM;
// bob (view there) gets 403 on every credentials subresource and on power; alice gets 403 in bob's
// tenant. The platform's Secrets and workload objects are created as the charts and their
// controllers would create them.

const tenantKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster:
    server: https://kubernetes-dev.tenant.svc:6443
users:
- name: admin
  user:
    token: tenant-cluster-admin-token
contexts:
- name: dev
  context: {cluster: dev, user: admin}
current-context: dev
`

// rawAs sends a request as user through the aggregator and returns the status code, body and
// headers.
func rawAs(t *testing.T, user, method, path string) (int, string, http.Header) {
	t.Helper()
	return rawBodyAs(t, user, method, path, "")
}

// rawBodyAs is rawAs with a JSON request body.
func rawBodyAs(t *testing.T, user, method, path, body string) (int, string, http.Header) {
	t.Helper()
	cfg := rest.CopyConfig(cp.Config)
	if user != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, cfg.Host+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer), resp.Header
}

// withJSON makes cfg usable for a plain REST client of the apps.cozy.io group.
func withJSON(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.GroupVersion = &appsv1alpha1.SchemeGroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	return cfg
}

func appsPath(ns, resource, name, sub string) string {
	return fmt.Sprintf("/apis/apps.cozy.io/v1alpha1/namespaces/%s/%s/%s/%s", ns, resource, name, sub)
}

func TestSubresources(t *testing.T) {
	ctx := context.Background()
	tenantA, tenantB := newTenant(t), newTenant(t)
	alice, bob := "alice-"+tenantA, "bob-"+tenantA
	bindRole(t, tenantA, "admin", alice)
	bindRole(t, tenantA, "view", bob)
	bindRole(t, tenantB, "admin", bob)

	// A cluster whose control plane wrote its admin kubeconfig.
	if _, err := cp.Apps.AppsV1alpha1().Kuberneteses(tenantA).Create(ctx, &appsv1alpha1.Kubernetes{ObjectMeta: metav1.ObjectMeta{Name: "dev"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secrets := cp.Kube.CoreV1().Secrets(tenantA)
	if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes-dev-admin-kubeconfig", Annotations: helmOwned("kubernetes-dev", tenantA)},
		Data: map[string][]byte{"super-admin.conf": []byte(tenantKubeconfig)}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfigPath := appsPath(tenantA, "kuberneteses", "dev", "kubeconfig")

	t.Run("kubeconfig", func(t *testing.T) {
		code, body, header := rawAs(t, alice, http.MethodGet, kubeconfigPath)
		if code != http.StatusOK || body != tenantKubeconfig {
			t.Fatalf("alice's kubeconfig: %d %q", code, body)
		}
		if cc := header.Values("Cache-Control"); !strings.Contains(strings.Join(cc, ","), "no-store") {
			t.Errorf("Cache-Control %v: want no-store", cc)
		}
		out, _ := kubectl(t, false, "get", "--raw", kubeconfigPath, "--as", alice)
		if out != tenantKubeconfig {
			t.Errorf("kubectl get --raw: %q", out)
		}
		if code, body, _ := rawAs(t, bob, http.MethodGet, kubeconfigPath); code != http.StatusForbidden {
			t.Errorf("bob (view) reading the kubeconfig: %d %s", code, body)
		}
		if code, _, _ := rawAs(t, bob, http.MethodGet, appsPath(tenantA, "kuberneteses", "dev", "")); code != http.StatusOK {
			t.Errorf("bob (view) reading the cluster: %d", code)
		}
		if code, _, _ := rawAs(t, alice, http.MethodGet, appsPath(tenantB, "kuberneteses", "dev", "kubeconfig")); code != http.StatusForbidden {
			t.Errorf("alice in bob's tenant: %d", code)
		}
		if code, _, _ := rawAs(t, alice, http.MethodGet, appsPath(tenantA, "kuberneteses", "nope", "kubeconfig")); code != http.StatusNotFound {
			t.Errorf("kubeconfig of a cluster that does not exist: %d", code)
		}
		if code, _, _ := rawAs(t, alice, http.MethodPost, kubeconfigPath); code != http.StatusMethodNotAllowed {
			t.Errorf("POST kubeconfig: %d", code)
		}
		for _, check := range []struct{ user, verb, resource, subresource, want string }{
			{alice, "get", "kuberneteses", "kubeconfig", "yes"}, {bob, "get", "kuberneteses", "kubeconfig", "no"},
			{alice, "get", "buckets", "credentials", "yes"}, {bob, "get", "buckets", "credentials", "no"},
			{alice, "update", "virtualmachines", "start", "yes"}, {bob, "update", "virtualmachines", "start", "no"},
			{bob, "get", "kuberneteses", "status", "yes"},
		} {
			// can-i exits 1 for "no".
			out, _ := kubectl(t, check.want == "no", "auth", "can-i", check.verb, check.resource+".apps.cozy.io", "--subresource="+check.subresource, "-n", tenantA, "--as", check.user)
			if strings.TrimSpace(out) != check.want {
				t.Errorf("can-i %s %s as %s: %q, want %s", check.verb, check.resource, check.user, out, check.want)
			}
		}
	})

	t.Run("kubeconfig not there or not usable", func(t *testing.T) {
		if _, err := cp.Apps.AppsV1alpha1().Kuberneteses(tenantA).Create(ctx, &appsv1alpha1.Kubernetes{ObjectMeta: metav1.ObjectMeta{Name: "young"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		path := appsPath(tenantA, "kuberneteses", "young", "kubeconfig")
		expect := func(what, contains string) {
			t.Helper()
			code, body, _ := rawAs(t, alice, http.MethodGet, path)
			if code != http.StatusConflict || !strings.Contains(body, contains) {
				t.Errorf("%s: want 409 saying %q, got %d %s", what, contains, code, body)
			}
		}
		expect("no Secret yet", "is not there yet")
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes-young-admin-kubeconfig"}, Data: map[string][]byte{"super-admin.conf": []byte(tenantKubeconfig)}}
		created, err := secrets.Create(ctx, secret, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		expect("a Secret of that name nobody wrote for the cluster", "was not written for this cluster")
		created.Annotations = helmOwned("kubernetes-young", tenantA)
		created.Data = map[string][]byte{"super-admin.conf": []byte("{not: [a kubeconfig")}
		if created, err = secrets.Update(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		expect("a malformed kubeconfig", "does not hold a usable kubeconfig")
		// A cluster being deleted hands out no kubeconfig, even a good one.
		created.Data = map[string][]byte{"super-admin.conf": []byte(tenantKubeconfig)}
		if _, err := secrets.Update(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		clusters := cp.Apps.AppsV1alpha1().Kuberneteses(tenantA)
		if _, err := clusters.Patch(ctx, "young", types.MergePatchType, []byte(`{"metadata":{"finalizers":["example.com/hold"]}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := rawAs(t, alice, http.MethodGet, path); code != http.StatusOK {
			t.Errorf("the fixed kubeconfig: %d", code)
		}
		if err := clusters.Delete(ctx, "young", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		expect("a cluster being deleted", "being deleted")
		if _, err := clusters.Patch(ctx, "young", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("bucket credentials", func(t *testing.T) {
		bucket := &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: "photos"}, Spec: &appsv1alpha1.BucketSpec{Users: map[string]appsv1alpha1.BucketUser{
			"writer": {}, "reader": {Readonly: ptr.To(true)}}}}
		if _, err := cp.Apps.AppsV1alpha1().Buckets(tenantA).Create(ctx, bucket, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		path := appsPath(tenantA, "buckets", "photos", "credentials")
		if code, body, _ := rawAs(t, alice, http.MethodGet, path); code != http.StatusConflict || !strings.Contains(body, "BucketAccess bucket-photos-reader") {
			t.Errorf("before COSI granted access: want 409, got %d %s", code, body)
		}
		for user, key := range map[string]string{"writer": "AKWRITER", "reader": "AKREADER"} {
			access := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "objectstorage.k8s.io/v1alpha1", "kind": "BucketAccess",
				"metadata": map[string]any{"name": "bucket-photos-" + user, "namespace": tenantA},
				"spec":     map[string]any{"bucketClaimName": "bucket-photos", "bucketAccessClassName": "default", "credentialsSecretName": "bucket-photos-" + user, "protocol": "S3"},
			}}
			access.SetAnnotations(helmOwned("bucket-photos", tenantA))
			accesses := cp.Dynamic.Resource(workloadsim.BucketAccesses).Namespace(tenantA)
			created, err := accesses.Create(ctx, access, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			created.Object["status"] = map[string]any{"accessGranted": true}
			if _, err := accesses.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			info, _ := json.Marshal(map[string]any{"spec": map[string]any{"bucketName": "photos-1234", "secretS3": map[string]any{
				"endpoint": "https://s3.example.org", "region": "us-east-1", "accessKeyID": key, "accessSecretKey": "secret-" + key}}})
			if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bucket-photos-" + user},
				Data: map[string][]byte{"BucketInfo": info}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		code, body, header := rawAs(t, alice, http.MethodGet, path)
		if code != http.StatusOK {
			t.Fatalf("alice's credentials: %d %s", code, body)
		}
		var got appsv1alpha1.BucketCredentials
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		if got.Kind != "BucketCredentials" || got.Endpoint != "https://s3.example.org" || got.BucketName != "photos-1234" ||
			got.Users["writer"].AccessKeyID != "AKWRITER" || got.Users["writer"].SecretAccessKey != "secret-AKWRITER" || got.Users["writer"].Readonly ||
			!got.Users["reader"].Readonly || got.Users["reader"].AccessKeyID != "AKREADER" {
			t.Errorf("credentials: %s", body)
		}
		if cc := header.Values("Cache-Control"); !strings.Contains(strings.Join(cc, ","), "no-store") {
			t.Errorf("Cache-Control %v: want no-store", cc)
		}
		if code, _, _ := rawAs(t, bob, http.MethodGet, path); code != http.StatusForbidden {
			t.Errorf("bob (view) reading credentials: %d", code)
		}
	})

	t.Run("virtual machine power", func(t *testing.T) {
		vm := &appsv1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: &appsv1alpha1.VirtualMachineSpec{}}
		created, err := cp.Apps.AppsV1alpha1().VirtualMachines(tenantA).Create(ctx, vm, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		power := func(user, action string, options string) (int, *appsv1alpha1.VirtualMachine, string) {
			t.Helper()
			code, body, _ := rawBodyAs(t, user, http.MethodPut, appsPath(tenantA, "virtualmachines", "web", action), options)
			var got appsv1alpha1.VirtualMachine
			_ = json.Unmarshal([]byte(body), &got)
			return code, &got, body
		}
		runStrategy := func() string {
			got, err := cp.Apps.AppsV1alpha1().VirtualMachines(tenantA).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return string(*got.Spec.RunStrategy)
		}
		if code, _, body := power(alice, "start", ""); code != http.StatusConflict || !strings.Contains(body, "already running") {
			t.Errorf("start of a running machine: %d %s", code, body)
		}
		if code, got, body := power(alice, "stop", `{"dryRun": ["All"]}`); code != http.StatusOK || string(*got.Spec.RunStrategy) != "Halted" || runStrategy() != "Always" {
			t.Errorf("dry-run stop: %d %s; stored %s", code, body, runStrategy())
		}
		code, stopped, body := power(alice, "stop", "")
		if code != http.StatusOK || string(*stopped.Spec.RunStrategy) != "Halted" || stopped.Generation != created.Generation+1 || runStrategy() != "Halted" {
			t.Fatalf("stop: %d %s", code, body)
		}
		hr, err := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(tenantA).Get(ctx, "vm-instance-web", metav1.GetOptions{})
		if err != nil || hr.GetAnnotations()[release.AnnotationLastModifiedBy] != alice {
			t.Errorf("the release does not record who stopped the machine: %v %v", err, hr.GetAnnotations())
		}
		if code, _, body := power(alice, "restart", ""); code != http.StatusConflict || !strings.Contains(body, "stopped") {
			t.Errorf("restart of a stopped machine: %d %s", code, body)
		}
		if code, _, body := power(bob, "start", ""); code != http.StatusForbidden {
			t.Errorf("bob (view) starting the machine: %d %s", code, body)
		}
		if code, _, body := power(alice, "start", ""); code != http.StatusOK || runStrategy() != "Always" {
			t.Fatalf("start: %d %s", code, body)
		}
		if code, _, body := power(alice, "restart", ""); code != http.StatusConflict || !strings.Contains(body, "no running instance") {
			t.Errorf("restart before KubeVirt started an instance: %d %s", code, body)
		}
		// KubeVirt's running instance, as its controller creates it.
		vmis := cp.Dynamic.Resource(workloadsim.VirtualMachineInstances).Namespace(tenantA)
		if _, err := vmis.Create(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
			"metadata": map[string]any{"name": "vm-instance-web"}, "spec": map[string]any{}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		before := runStrategy()
		if code, _, body := power(alice, "restart", ""); code != http.StatusOK {
			t.Fatalf("restart: %d %s", code, body)
		}
		if _, err := vmis.Get(ctx, "vm-instance-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("restart did not end the running instance: %v", err)
		}
		if after, err := cp.Apps.AppsV1alpha1().VirtualMachines(tenantA).Get(ctx, "web", metav1.GetOptions{}); err != nil || after.Generation != stopped.Generation+1 || runStrategy() != before {
			t.Errorf("restart changed the spec: generation %d", after.Generation)
		}
		if code, _, _ := rawAs(t, alice, http.MethodGet, appsPath(tenantA, "virtualmachines", "web", "start")); code != http.StatusMethodNotAllowed {
			t.Errorf("GET start: %d", code)
		}
	})

	t.Run("disabled without the optional RBAC", func(t *testing.T) {
		replica, err := cp.StartReplica(ctx, "no-credentials", "--credentials-subresources=false")
		if err != nil {
			t.Fatal(err)
		}
		defer replica.Stop()
		cfg, err := cp.ReplicaConfig(replica, alice, "system:authenticated")
		if err != nil {
			t.Fatal(err)
		}
		client, err := rest.RESTClientFor(withJSON(cfg))
		if err != nil {
			t.Fatal(err)
		}
		// Everything else works, once the new replica trusts the front-proxy identity (it loads the
		// request-header CA after it starts serving).
		eventually(t, 30*time.Second, "reading the cluster on that server", func(ctx context.Context) (bool, error) {
			err := client.Get().AbsPath(appsPath(tenantA, "kuberneteses", "dev", "")).Do(ctx).Error()
			return err == nil, err
		})
		err = client.Get().AbsPath(kubeconfigPath).Do(ctx).Error()
		if status, ok := err.(apierrors.APIStatus); !ok || status.Status().Code != http.StatusNotImplemented || !strings.Contains(err.Error(), "--credentials-subresources") {
			t.Errorf("kubeconfig on a server without credentials: want 501 naming the flag, got %v", err)
		}
	})

	t.Run("discovery", func(t *testing.T) {
		list, err := cp.Kube.Discovery().ServerResourcesForGroupVersion("apps.cozy.io/v1alpha1")
		if err != nil {
			t.Fatal(err)
		}
		served := map[string]bool{}
		for _, r := range list.APIResources {
			served[r.Name] = true
		}
		code, openapi, _ := rawAs(t, "", http.MethodGet, "/openapi/v3/apis/apps.cozy.io/v1alpha1")
		if code != http.StatusOK {
			t.Fatalf("OpenAPI v3: %d", code)
		}
		for _, want := range []string{"kuberneteses/kubeconfig", "buckets/credentials", "virtualmachines/start", "virtualmachines/stop", "virtualmachines/restart"} {
			if !served[want] {
				t.Errorf("discovery does not list %s", want)
			}
			resource, sub, _ := strings.Cut(want, "/")
			if !strings.Contains(openapi, `"/apis/apps.cozy.io/v1alpha1/namespaces/{namespace}/`+resource+`/{name}/`+sub+`"`) {
				t.Errorf("the OpenAPI has no path for %s", want)
			}
		}
		if !strings.Contains(openapi, "BucketCredentials") {
			t.Error("the OpenAPI does not describe BucketCredentials")
		}
	})
}
