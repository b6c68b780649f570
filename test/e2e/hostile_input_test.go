package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cozystack/apps-apiserver/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// bystander is another tenant using the API while a hostile one sends bad input: it creates,
// reads and patches Buckets and watches them, and records how long each step took.
type bystander struct {
	ns       string
	mu       sync.Mutex
	slowest  time.Duration
	failures []string
	stop     chan struct{}
	done     chan struct{}
}

// maxBystanderDelay is how long any request or watch event of another tenant may take while the
// hostile input is sent.
const maxBystanderDelay = 2 * time.Second

func startBystander(t *testing.T) *bystander {
	t.Helper()
	b := &bystander{ns: newTenant(t), stop: make(chan struct{}), done: make(chan struct{})}
	c := cp.Dynamic.Resource(gvr("buckets")).Namespace(b.ns)
	w, err := c.Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("bystander watch: %v", err)
	}
	go func() {
		defer close(b.done)
		defer w.Stop()
		for i := 0; ; i++ {
			select {
			case <-b.stop:
				return
			default:
			}
			name := fmt.Sprintf("b%d", i)
			b.step("create", func(ctx context.Context) error {
				_, err := c.Create(ctx, bucketObject(name), metav1.CreateOptions{})
				return err
			})
			b.step("watch event", func(ctx context.Context) error {
				for {
					select {
					case e, ok := <-w.ResultChan():
						if !ok {
							return fmt.Errorf("watch closed")
						}
						if m, err := metaName(e.Object); err == nil && m == name && e.Type == watch.Added {
							return nil
						}
					case <-ctx.Done():
						return fmt.Errorf("no ADDED event for %s", name)
					}
				}
			})
			b.step("get", func(ctx context.Context) error {
				_, err := c.Get(ctx, name, metav1.GetOptions{})
				return err
			})
			b.step("patch", func(ctx context.Context) error {
				_, err := c.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"step":"patched"}}}`), metav1.PatchOptions{})
				return err
			})
			b.step("list", func(ctx context.Context) error {
				_, err := c.List(ctx, metav1.ListOptions{})
				return err
			})
		}
	}()
	return b
}

func (b *bystander) step(what string, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*maxBystanderDelay)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	took := time.Since(start)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slowest = max(b.slowest, took)
	if err != nil || took > maxBystanderDelay {
		b.failures = append(b.failures, fmt.Sprintf("%s: %v after %v", what, err, took))
	}
}

// finish stops the bystander and fails the test if any of its steps failed or was slow.
func (b *bystander) finish(t *testing.T) {
	t.Helper()
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	t.Logf("bystander tenant: slowest step %v", b.slowest)
	if len(b.failures) > 0 {
		t.Errorf("another tenant was affected by the hostile input: %s", strings.Join(b.failures, "; "))
	}
}

func bucketObject(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps.cozy.io/v1alpha1", "kind": "Bucket",
		"metadata": map[string]any{"name": name}, "spec": map[string]any{"storagePool": "default"},
	}}
}

func metaName(obj any) (string, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return "", fmt.Errorf("%T", obj)
	}
	return u.GetName(), nil
}

// rawWrite sends body as-is and returns the status code and the error kube-apiserver answered.
func rawWrite(ctx context.Context, verb, ns, resource, name, contentType, body string) (int, error) {
	rc := cp.Apps.AppsV1alpha1().RESTClient()
	req := rc.Verb(verb).Namespace(ns).Resource(resource).SetHeader("Content-Type", contentType).Body([]byte(body))
	if name != "" {
		req = req.Name(name)
	}
	var code int
	err := req.Do(ctx).StatusCode(&code).Error()
	return code, err
}

func deepJSON(levels int) string {
	return strings.Repeat(`{"a":`, levels) + `1` + strings.Repeat(`}`, levels)
}

func kubernetesBody(name, addonValues string) string {
	return `{"apiVersion":"apps.cozy.io/v1alpha1","kind":"Kubernetes","metadata":{"name":"` + name +
		`"},"spec":{"addons":{"certManager":{"enabled":true,"valuesOverride":` + addonValues + `}}}}`
}

// TestHostileInput sends what a hostile or careless tenant might, checks each answer, and checks
// that another tenant keeps working meanwhile and that nothing panics (TestMain counts panics).
func TestHostileInput(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	b := startBystander(t)
	defer b.finish(t)

	cases := []struct {
		name       string
		verb, body string
		objName    string
		contentTyp string
		wantCode   int
		wantCause  string // a field path the 422 must name
	}{
		{name: "values nested 9,990 levels", verb: "POST", body: kubernetesBody("deep", deepJSON(9990)), wantCode: 422, wantCause: "spec.addons.certManager.valuesOverride"},
		{name: "values nested just past the limit", verb: "POST", body: kubernetesBody("deep2", deepJSON(30)), wantCode: 422, wantCause: "spec.addons.certManager.valuesOverride"},
		{name: "number beyond float64", verb: "POST", body: kubernetesBody("big", `{"x":1e400}`), wantCode: 400},
		{name: "400-digit integer", verb: "POST", body: kubernetesBody("big2", `{"x":`+strings.Repeat("9", 400)+`}`), wantCode: 400},
		{name: "string over the limit", verb: "POST", body: kubernetesBody("long", `{"x":"`+strings.Repeat("x", 70<<10)+`"}`), wantCode: 422, wantCause: "spec.addons.certManager.valuesOverride.x"},
		{name: "too many keys", verb: "POST", body: kubernetesBody("keys", manyKeys(1100)), wantCode: 422, wantCause: "spec.addons.certManager.valuesOverride"},
		{name: "spec over the size limit", verb: "POST", body: kubernetesBody("size", manyStrings(6, 60<<10)), wantCode: 422, wantCause: "spec"},
		{name: "body over the request limit", verb: "POST", body: kubernetesBody("huge", `"`+strings.Repeat("x", 4<<20)+`"`), wantCode: 413},
		{name: "not JSON", verb: "POST", body: `{"apiVersion":`, wantCode: 400},
		{name: "no apiVersion", verb: "POST", body: `{"kind":"Bucket","metadata":{"name":"x"}}`, wantCode: 400},
		{name: "spec of the wrong type", verb: "POST", body: `{"apiVersion":"apps.cozy.io/v1alpha1","kind":"Bucket","metadata":{"name":"x"},"spec":"x"}`, wantCode: 422, wantCause: "spec"},
		{name: "boolean as a string", verb: "POST", body: `{"apiVersion":"apps.cozy.io/v1alpha1","kind":"Bucket","metadata":{"name":"x"},"spec":{"locking":"true"}}`, wantCode: 422, wantCause: "spec.locking"},
		{name: "quantity that is not one", verb: "POST", body: `{"apiVersion":"apps.cozy.io/v1alpha1","kind":"VMDisk","metadata":{"name":"x"},"spec":{"storage":"lots"}}`, wantCode: 422, wantCause: "spec.storage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource := "kuberneteses"
			for kind, r := range map[string]string{`"Bucket"`: "buckets", `"VMDisk"`: "vmdisks"} {
				if strings.Contains(tc.body, kind) {
					resource = r
				}
			}
			code, err := rawWrite(ctx, tc.verb, ns, resource, tc.objName, "application/json", tc.body)
			if code != tc.wantCode {
				t.Fatalf("want %d, got %d: %v", tc.wantCode, code, err)
			}
			if tc.wantCause != "" && !hasCausePrefix(err, tc.wantCause) {
				t.Errorf("want a cause at %s, got %v", tc.wantCause, statusCauses(err))
			}
		})
	}

	// Updates and patches of an existing object answer the same way.
	bc := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	mustCreate(t, bc, bucketObject("target"))
	k := cp.Dynamic.Resource(gvr("kuberneteses")).Namespace(ns)
	kube := mustCreate(t, k, kubernetesObject("target", map[string]any{}))
	t.Run("merge patch with a wrong type names the field", func(t *testing.T) {
		_, err := bc.Patch(ctx, "target", types.MergePatchType, []byte(`{"spec":{"locking":"yes"}}`), metav1.PatchOptions{})
		if !apierrors.IsInvalid(err) || !hasCausePrefix(err, "spec.locking") {
			t.Fatalf("want 422 at spec.locking, got %v %v", err, statusCauses(err))
		}
	})
	t.Run("put with a huge number", func(t *testing.T) {
		body := strings.Replace(kubernetesBody("target", `{"x":1e400}`), `"name":"target"`, `"name":"target","resourceVersion":"`+kube.GetResourceVersion()+`"`, 1)
		if code, err := rawWrite(ctx, "PUT", ns, "kuberneteses", "target", "application/json", body); code != 400 {
			t.Fatalf("want 400, got %d: %v", code, err)
		}
	})
	t.Run("merge patch with a huge number answers as for the CRD", func(t *testing.T) {
		code, err := rawWrite(ctx, "PATCH", ns, "kuberneteses", "target", "application/merge-patch+json", `{"spec":{"addons":{"certManager":{"valuesOverride":{"x":1e400}}}}}`)
		twin := cp.Dynamic.Resource(schema.GroupVersionResource{Group: twinGroup, Version: "v1alpha1", Resource: "kuberneteses"}).Namespace(ns)
		twinObj := kubernetesObject("target", map[string]any{})
		twinObj.SetAPIVersion(twinGroup + "/v1alpha1")
		mustCreate(t, twin, twinObj)
		_, twinErr := twin.Patch(ctx, "target", types.MergePatchType, []byte(`{"spec":{"addons":{"certManager":{"valuesOverride":{"x":1e400}}}}}`), metav1.PatchOptions{})
		var twinCode int32
		if status, ok := twinErr.(apierrors.APIStatus); ok {
			twinCode = status.Status().Code
		}
		if code < 400 || code >= 500 || int32(code) != twinCode {
			t.Fatalf("want the CRD's client error (%d: %v), got %d: %v", twinCode, twinErr, code, err)
		}
	})
	t.Run("merge patch nesting too deep", func(t *testing.T) {
		code, err := rawWrite(ctx, "PATCH", ns, "kuberneteses", "target", "application/merge-patch+json", `{"spec":{"addons":{"certManager":{"valuesOverride":`+deepJSON(5000)+`}}}}`)
		if code != 422 || !hasCausePrefix(err, "spec.addons.certManager.valuesOverride") {
			t.Fatalf("want 422 at the values, got %d: %v", code, err)
		}
	})

	// Watches at the edges of resourceVersion answer as kube-apiserver does: established, and
	// either waiting or reporting expiry in the stream.
	t.Run("watch from the largest resourceVersion waits", func(t *testing.T) {
		w, err := bc.Watch(ctx, metav1.ListOptions{ResourceVersion: "18446744073709551615"})
		if err != nil {
			t.Fatalf("want an established watch, got %v", err)
		}
		defer w.Stop()
		select {
		case e := <-w.ResultChan():
			t.Fatalf("want no event, got %s %v", e.Type, e.Object)
		case <-time.After(time.Second):
		}
	})
	t.Run("watch from an expired resourceVersion reports 410 in the stream", func(t *testing.T) {
		w, err := bc.Watch(ctx, metav1.ListOptions{ResourceVersion: "1"})
		if err != nil {
			t.Fatalf("want an established watch, got %v", err)
		}
		defer w.Stop()
		select {
		case e := <-w.ResultChan():
			if status, ok := e.Object.(*metav1.Status); e.Type != watch.Error || !ok || status.Code != http.StatusGone {
				t.Fatalf("want an ERROR event with 410, got %s %v", e.Type, e.Object)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
	})
}

// TestUnreadableReleaseStaysVisible seeds a release whose values do not fit the kind (as another
// tool might write one) and checks that it is listed, readable and deletable, with a condition
// saying why, that updates are refused rather than replacing values nobody can see, and that other
// objects are served as before.
func TestUnreadableReleaseStaysVisible(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	c := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	mustCreate(t, c, bucketObject("healthy"))
	seedRelease(t, "Bucket", ns, "broken", map[string]any{"users": "everyone", "storagePool": "x"})
	eventually(t, 5*time.Second, "the unreadable object is listed", func(ctx context.Context) (bool, error) {
		list, err := c.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(list.Items) == 2, nil
	})
	got, err := c.Get(ctx, "broken", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("GET of the unreadable object: %v", err)
	}
	conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
	var reason, message string
	for _, cond := range conditions {
		if m := cond.(map[string]any); m["type"] == "Ready" {
			reason, _ = m["reason"].(string)
			message, _ = m["message"].(string)
		}
	}
	if reason != release.ReasonUnreadableValues || !strings.Contains(message, "users") {
		t.Errorf("Ready condition: reason %q message %q", reason, message)
	}
	if _, err := c.Patch(ctx, "broken", types.MergePatchType, []byte(`{"metadata":{"labels":{"a":"b"}}}`), metav1.PatchOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update of an unreadable object: want 409, got %v", err)
	}
	if _, err := c.Get(ctx, "healthy", metav1.GetOptions{}); err != nil {
		t.Errorf("other objects must be served: %v", err)
	}
	if err := c.Delete(ctx, "broken", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete of the unreadable object: %v", err)
	}
	if _, err := helmRelease(ctx, ns, "bucket-broken"); !apierrors.IsNotFound(err) {
		t.Errorf("the release must be gone after the delete: %v", err)
	}
}

func hasCausePrefix(err error, path string) bool {
	for _, c := range statusCauses(err) {
		if strings.HasPrefix(c, path) {
			return true
		}
	}
	return false
}

func manyKeys(n int) string {
	var sb strings.Builder
	sb.WriteString("{")
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `"k%d":%d`, i, i)
	}
	sb.WriteString("}")
	return sb.String()
}

func manyStrings(n, size int) string {
	var sb strings.Builder
	sb.WriteString("{")
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `"s%d":"%s"`, i, strings.Repeat("y", size))
	}
	sb.WriteString("}")
	return sb.String()
}

// TestUndecodableReleaseFromAnotherWriter: a HelmRelease nested almost as deep as kube-apiserver
// accepts, written by someone else (an admin, the incumbent API), makes any plain list that
// contains it undecodable. The server keeps serving and watching every object, that one included
// (it loads releases as a watch-list, one event per release), a server started afterwards becomes
// ready, and the tenant can delete the object.
func TestUndecodableReleaseFromAnotherWriter(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	b := startBystander(t)
	defer b.finish(t)
	buckets := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	mustCreate(t, buckets, bucketObject("healthy"))

	k := kindByName(t, "Bucket")
	hr := k.NewRelease(ns, "deep")
	hr.SetLabels(map[string]string{release.LabelApplicationKind: k.ApplicationKind, release.LabelApplicationName: "deep"})
	body, err := json.Marshal(hr.Object)
	if err != nil {
		t.Fatal(err)
	}
	// spec.values.users.deep nests 9,980 levels: accepted alone, undecodable inside a list.
	deep := `{"spec":{"interval":"5m","chart":{"spec":{"chart":"bucket","sourceRef":{"kind":"HelmRepository","name":"x"}}},"values":{"users":{"deep":` + deepJSON(9980) + `}}}}`
	merged := strings.TrimSuffix(string(body), "}") + "," + strings.TrimPrefix(deep, "{")
	code := 0
	err = cp.Kube.Discovery().RESTClient().Post().AbsPath("/apis/helm.toolkit.fluxcd.io/v2/namespaces/"+ns+"/helmreleases").
		SetHeader("Content-Type", "application/json").Body([]byte(merged)).Do(ctx).StatusCode(&code).Error()
	if err != nil {
		t.Fatalf("seeding the deep release as an admin: %d %v", code, err)
	}

	eventually(t, 10*time.Second, "the deep object is listed as unreadable next to the healthy one", func(ctx context.Context) (bool, error) {
		list, err := buckets.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(list.Items) == 2, nil
	})
	if _, err := buckets.Get(ctx, "deep", metav1.GetOptions{}); err != nil {
		t.Fatalf("GET of the deep object: %v", err)
	}
	// A server starting now loads a list with the release in it and must become ready.
	replica, err := cp.StartReplica(ctx, "after-deep")
	if err != nil {
		t.Fatalf("a server started after the deep release: %v", err)
	}
	defer replica.Stop()
	cfg, err := cp.ReplicaConfig(replica, "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the new server lists both objects", func(ctx context.Context) (bool, error) {
		list, err := fresh.Resource(gvr("buckets")).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(list.Items) == 2, nil
	})
	w, err := buckets.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	mustCreate(t, buckets, bucketObject("after"))
	eventually(t, 5*time.Second, "watches keep delivering", func(ctx context.Context) (bool, error) {
		for {
			select {
			case e := <-w.ResultChan():
				if name, _ := metaName(e.Object); name == "after" {
					return true, nil
				}
			default:
				return false, nil
			}
		}
	})
	if err := buckets.Delete(ctx, "deep", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete of the deep object: %v", err)
	}
}
