package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"sort"
	"strconv"
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

// queryValues are the values the query fuzz draws from for each parameter: valid ones, boundaries,
// wrong types, garbage and hostile strings.
var queryValues = map[string][]string{
	"resourceVersion":      {"", "0", "1", "abc", "-1", "99999999999999999999", "1e3", "18446744073709551615", " "},
	"resourceVersionMatch": {"", "Exact", "NotOlderThan", "exact", "Bogus"},
	"limit":                {"", "0", "1", "-1", "x", "99999999999999999999", "500"},
	"continue":             {"", "garbage", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiIvIn0", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoiLi4vLi4vIn0", "%00"},
	"labelSelector":        {"", "a=b", "a in (b,c)", "!a", "a==", "((", strings.Repeat("a", 400) + "=b", "a=" + strings.Repeat("b", 70), "a notin ()"},
	"fieldSelector":        {"", "metadata.name=base", "metadata.namespace!=x", "spec.storagePool=x", "status.phase=x", "metadata.name", "=", "metadata.name=" + strings.Repeat("x", 300)},
	"timeoutSeconds":       {"", "0", "1", "-1", "x", "99999999999999"},
	"allowWatchBookmarks":  {"", "true", "false", "x"},
	"sendInitialEvents":    {"", "true", "false", "x"},
	"watch":                {"", "true", "false", "1", "x"},
	"propagationPolicy":    {"", "Background", "Foreground", "Orphan", "Bogus"},
	"gracePeriodSeconds":   {"", "0", "-1", "x", "99999999999999999999"},
	"orphanDependents":     {"", "true", "false", "x"},
	"dryRun":               {"", "All", "Bogus", "All,All"},
	"pretty":               {"", "true", "x"},
	"fieldManager":         {"", "m", strings.Repeat("m", 200)},
}

// TestHostileQueryParameters sends seeded random combinations of query parameters on list,
// watch, get and delete of a kind and of its CRD twin: no answer of this server is a 5xx (a
// client's parameter is never the server's fault), and where the CRD answers below 500 this
// server answers with the same code. COZY_QUERY_SEED replays a run.
func TestHostileQueryParameters(t *testing.T) {
	seed := int64(20261207)
	if s := os.Getenv("COZY_QUERY_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	b := startBystander(t)
	defer b.finish(t)
	namespaces := map[string]string{}
	for _, group := range []string{"apps.cozy.io", twinGroup} {
		ns := newTenant(t)
		namespaces[group] = ns
		obj := bucketObject("base")
		obj.SetAPIVersion(group + "/v1alpha1")
		mustCreate(t, cp.Dynamic.Resource(schema.GroupVersionResource{Group: group, Version: "v1alpha1", Resource: "buckets"}).Namespace(ns), obj)
	}
	names := make([]string, 0, len(queryValues))
	for name := range queryValues {
		names = append(names, name)
	}
	sort.Strings(names)
	verbs := []string{"list", "watch", "get", "delete"}
	differ := 0
	for i := range 300 {
		verb := verbs[rng.Intn(len(verbs))]
		params := map[string]string{}
		for range 1 + rng.Intn(4) {
			name := names[rng.Intn(len(names))]
			values := queryValues[name]
			params[name] = values[rng.Intn(len(values))]
		}
		if verb == "delete" {
			params["dryRun"] = "All"
		}
		var codes [2]int
		for j, group := range []string{"apps.cozy.io", twinGroup} {
			codes[j] = sendQuery(t, group, namespaces[group], verb, params)
		}
		switch {
		case codes[0] == http.StatusGatewayTimeout && codes[1] == http.StatusGatewayTimeout:
			// A resourceVersion from the future: both wait, then answer 504 Too large resource
			// version with Retry-After, as kube-apiserver's watch cache does.
		case codes[0] == http.StatusGone && codes[1] == http.StatusOK && (params["continue"] != "" || params["resourceVersionMatch"] == "Exact"):
			// A state older than this server's event log: 410 Expired, where etcd still had it
			// (README: deliberate differences).
		case codes[0] >= 500:
			t.Errorf("request %d: %s with %v answered %d (the CRD %d)", i, verb, params, codes[0], codes[1])
		case codes[1] < 500 && codes[0] != codes[1]:
			differ++
			t.Errorf("request %d: %s with %v answered %d, the CRD %d", i, verb, params, codes[0], codes[1])
		}
	}
	t.Logf("300 requests, %d answered with another code than the CRD's", differ)
}

// sendQuery sends one request with the query parameters and returns the status code; a watch is
// closed as soon as its answer starts.
func sendQuery(t *testing.T, group, ns, verb string, params map[string]string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	path := "/apis/" + group + "/v1alpha1/namespaces/" + ns + "/buckets"
	method := http.MethodGet
	switch verb {
	case "watch":
		params["watch"] = "true"
	case "get":
		path += "/base"
	case "delete":
		path += "/base"
		method = http.MethodDelete
	}
	// No retries: a 504 with Retry-After (a resourceVersion from the future) is the answer.
	req := cp.Kube.Discovery().RESTClient().Verb(method).AbsPath(path).MaxRetries(0)
	for k, v := range params {
		if v != "" {
			req = req.Param(k, v)
		}
	}
	// A query boolean is false only as "", "0" or "false" (k8s.io/apimachinery's conversion).
	if w := params["watch"]; verb == "watch" || (w != "" && w != "0" && w != "false") {
		stream, err := req.Stream(ctx)
		if err == nil {
			stream.Close()
			return http.StatusOK
		}
		return statusCode(t, err, params)
	}
	var code int
	err := req.Do(ctx).StatusCode(&code).Error()
	if err != nil && code == 0 {
		return statusCode(t, err, params)
	}
	return code
}

func statusCode(t *testing.T, err error, params map[string]string) int {
	t.Helper()
	if status, ok := err.(apierrors.APIStatus); ok {
		return int(status.Status().Code)
	}
	t.Errorf("not an API status for %v: %v", params, err)
	return -1
}
