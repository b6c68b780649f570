package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

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
