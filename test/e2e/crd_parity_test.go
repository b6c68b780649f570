package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// answer is what one request got, from apps.cozy.io or from its CRD twin: the status code,
// reason, causes and warnings, and a summary of the object or list returned. The twin's group is
// written as apps.cozy.io, so the two compare as they are.
type answer struct {
	Code   int
	Reason metav1.StatusReason
	// Message is compared when there are no causes.
	Message  string
	Causes   []string
	Warnings []string
	Result   any
}

// parityCase is one request sent to a kind and to its twin, each in a fresh tenant namespace
// holding one object, "base", made from the kind's example.
type parityCase struct {
	name string
	kind string
	// request sends the request and returns a summary of what came back.
	request func(ctx context.Context, tt parityTarget) (any, error)
}

// parityTarget is where a case's request goes: the kind's resource in apps.cozy.io or in the twin's
// group, in a namespace of its own.
type parityTarget struct {
	t        *testing.T
	c        dynamic.ResourceInterface
	group    string
	ns       string
	resource string
}

// TestCRDParity sends requests where this server answered differently from a CRD to a kind and to
// its CRD twin, and compares everything the client sees: code, reason, causes, warnings and what
// came back, with the real helm-controller reconciling the object under test. (The comparison of random patches and of Flux-reconciled objects is in
// twin_random_test.go.)
func TestCRDParity(t *testing.T) {
	for _, c := range []parityCase{
		{name: "a quantity below the int64 range", kind: "VMDisk", request: mergePatch(`{"spec":{"storage":-9223372036854775809}}`)},
		{name: "a quantity above the int64 range", kind: "VMDisk", request: mergePatch(`{"spec":{"storage":9223372036854775808}}`)},
		{name: "a quantity the pattern refuses", kind: "Kubernetes", request: mergePatch(`{"spec":{"nodeGroups":{"md0":{"diskSize":"Gi"}}}}`)},
		{name: "a quantity with an exponent", kind: "VMDisk", request: mergePatch(`{"spec":{"storage":"1e3"}}`)},
		{name: "an unknown field in an invalid create", kind: "Bucket", request: createBody(`{"spec":{"locking":"yes","extra":{"a":1}}}`)},
		{name: "an unknown nested field in an invalid patch", kind: "Bucket", request: mergePatch(`{"spec":{"locking":"yes","users":{"u":{"readonly":true,"bogus":1}}}}`)},
		{name: "an unqualified finalizer on create", kind: "Bucket", request: createBody(`{"metadata":{"finalizers":["hold"]},"spec":{}}`)},
		{name: "an unqualified finalizer in an invalid create", kind: "Bucket", request: createBody(`{"metadata":{"finalizers":["hold"]},"spec":{"locking":"yes"}}`)},
		{name: "an unqualified finalizer on patch", kind: "Bucket", request: mergePatch(`{"metadata":{"finalizers":["hold"]}}`)},
		{name: "another kind in the body", kind: "Bucket", request: createBody(`{"kind":"Other","spec":{}}`)},
		{name: "another kind in a merge patch", kind: "Bucket", request: mergePatch(`{"kind":"Other"}`)},
		{name: "another kind in an update", kind: "Bucket", request: func(ctx context.Context, tt parityTarget) (any, error) {
			obj, err := tt.c.Get(ctx, "base", metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			obj.SetKind("Other")
			return summarize(tt.c.Update(ctx, obj, metav1.UpdateOptions{}))
		}},
		{name: "a dry-run delete of an object a finalizer holds", kind: "Bucket", request: func(ctx context.Context, tt parityTarget) (any, error) {
			if _, err := tt.c.Patch(ctx, "base", types.MergePatchType, []byte(`{"metadata":{"finalizers":["example.com/hold"]}}`), metav1.PatchOptions{}); err != nil {
				return nil, err
			}
			deleted, err := deleteReturning(ctx, tt, "base", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				return nil, err
			}
			stored, err := tt.c.Get(ctx, "base", metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return map[string]any{"returned": objectSummary(deleted), "stored": objectSummary(stored)}, nil
		}},
		{name: "a list from the watch cache with a limit", kind: "Bucket", request: func(ctx context.Context, tt parityTarget) (any, error) {
			return pages(ctx, tt, metav1.ListOptions{ResourceVersion: "0", Limit: 1})
		}},
		{name: "a list with a label selector and a limit", kind: "Bucket", request: func(ctx context.Context, tt parityTarget) (any, error) {
			return pages(ctx, tt, metav1.ListOptions{LabelSelector: "tier=gold", Limit: 2})
		}},
		{name: "a list with a field selector and a limit", kind: "Bucket", request: func(ctx context.Context, tt parityTarget) (any, error) {
			return pages(ctx, tt, metav1.ListOptions{FieldSelector: "metadata.name!=base", Limit: 2})
		}},
	} {
		t.Run(c.name, func(t *testing.T) { compareAnswers(t, c) })
	}
}

// compareAnswers runs the case on the kind and on its twin and reports any difference.
func compareAnswers(t *testing.T, c parityCase) {
	t.Helper()
	here, crd := sendBoth(t, c)
	if normalize(here) != normalize(crd) {
		t.Errorf("apps.cozy.io and the CRD answer differently\n  here %s\n  CRD  %s", normalize(here), normalize(crd))
	}
}

// sendBoth runs the case on the kind and on its twin, each in a fresh tenant namespace holding
// "base", and returns both answers.
func sendBoth(t *testing.T, c parityCase) (here, crd answer) {
	t.Helper()
	ctx := context.Background()
	client, warnings := warningClient()
	var got [2]answer
	for i, group := range []string{"apps.cozy.io", twinGroup} {
		ns := newTenant(t)
		resource := strings.ToLower(c.kind) + "s"
		if c.kind == "Kubernetes" {
			resource = "kuberneteses"
		}
		rc := client.Resource(schema.GroupVersionResource{Group: group, Version: "v1alpha1", Resource: resource}).Namespace(ns)
		base := loadExample(t, strings.ToLower(c.kind)+".yaml")
		base.SetAPIVersion(group + "/v1alpha1")
		base.SetName("base")
		// As in `make run`: helm-controller reconciles the object under test (its finalizer and
		// status writes on the release are part of what the comparison tolerates, and no more).
		base.SetLabels(map[string]string{fluxLabel: "true"})
		mustCreate(t, rc, base)
		if group == "apps.cozy.io" {
			release := kindByName(t, c.kind).ReleaseName("base")
			eventually(t, 60*time.Second, "Flux reconciles base", func(ctx context.Context) (bool, error) {
				hr, err := helmRelease(ctx, ns, release)
				return err == nil && len(hr.GetFinalizers()) > 0, err
			})
		}
		warnings.take()
		result, err := c.request(ctx, parityTarget{t: t, c: rc, group: group, ns: ns, resource: resource})
		got[i] = answerOf(result, err, warnings.take())
	}
	return got[0], got[1]
}

func answerOf(result any, err error, warnings []string) answer {
	a := answer{Code: 200, Warnings: warnings, Result: result}
	if err == nil {
		return a
	}
	a.Result = nil
	status, ok := err.(apierrors.APIStatus)
	if !ok {
		a.Code, a.Reason = -1, metav1.StatusReason(err.Error())
		return a
	}
	s := status.Status()
	a.Code, a.Reason = int(s.Code), s.Reason
	if s.Details != nil {
		for _, cause := range s.Details.Causes {
			a.Causes = append(a.Causes, fmt.Sprintf("%s %s: %s", cause.Type, cause.Field, cause.Message))
		}
		sort.Strings(a.Causes)
	}
	if len(a.Causes) == 0 {
		// With causes the message lists them, in an order of no meaning (and, for another kind
		// in the body, a CRD names that kind in it).
		a.Message = s.Message
	}
	return a
}

// normalize is the answer as JSON with the twin's group named as apps.cozy.io.
func normalize(a answer) string {
	raw, _ := json.Marshal(a)
	return strings.ReplaceAll(string(raw), twinGroup, "apps.cozy.io")
}

func mergePatch(patch string) func(ctx context.Context, tt parityTarget) (any, error) {
	return func(ctx context.Context, tt parityTarget) (any, error) {
		return summarize(tt.c.Patch(ctx, "base", types.MergePatchType, []byte(patch), metav1.PatchOptions{}))
	}
}

// createBody creates "created" from the body, which gets apiVersion, kind and name unless it
// names them.
func createBody(body string) func(ctx context.Context, tt parityTarget) (any, error) {
	return func(ctx context.Context, tt parityTarget) (any, error) {
		obj := &unstructured.Unstructured{Object: map[string]any{}}
		if err := json.Unmarshal([]byte(body), &obj.Object); err != nil {
			return nil, err
		}
		if obj.GetKind() == "" {
			obj.SetKind("Bucket")
		}
		obj.SetAPIVersion(tt.group + "/v1alpha1")
		obj.SetName("created")
		return summarize(tt.c.Create(ctx, obj, metav1.CreateOptions{}))
	}
}

func summarize(obj *unstructured.Unstructured, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return objectSummary(obj), nil
}

// objectSummary is what a client compares of an object: its spec, finalizers, generation and
// whether it is being deleted.
func objectSummary(obj *unstructured.Unstructured) map[string]any {
	return map[string]any{
		"kind": obj.GetKind(), "spec": obj.Object["spec"], "finalizers": obj.GetFinalizers(),
		"generation": obj.GetGeneration(), "deleting": obj.GetDeletionTimestamp() != nil,
	}
}

// deleteReturning deletes and returns the object the response carries (the dynamic client's
// Delete drops it).
func deleteReturning(ctx context.Context, tt parityTarget, name string, opts metav1.DeleteOptions) (*unstructured.Unstructured, error) {
	body, err := json.Marshal(opts)
	if err != nil {
		return nil, err
	}
	raw, err := cp.Kube.Discovery().RESTClient().Delete().
		AbsPath("/apis", tt.group, "v1alpha1", "namespaces", tt.ns, tt.resource, name).Body(body).DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	return obj, obj.UnmarshalJSON(raw)
}

// pages creates objects for a paged list (three labelled tier=gold, one not, beside "base") and
// lists them page by page, returning each page's names and whether it had a continue token.
func pages(ctx context.Context, tt parityTarget, opts metav1.ListOptions) (any, error) {
	c := tt.c
	for i, tier := range []string{"gold", "gold", "silver", "gold"} {
		obj := loadExample(tt.t, "bucket.yaml")
		obj.SetAPIVersion(tt.group + "/v1alpha1")
		obj.SetName(fmt.Sprintf("b%d", i))
		obj.SetLabels(map[string]string{"tier": tier})
		if _, err := c.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
	}
	// A consistent list first: kube-apiserver's watch cache, which answers resourceVersion=0, has
	// then caught up with the creates (so has this server's cache).
	if _, err := c.List(ctx, metav1.ListOptions{}); err != nil {
		return nil, err
	}
	var out []string
	for range 10 {
		list, err := c.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, item := range list.Items {
			names = append(names, item.GetName())
		}
		out = append(out, fmt.Sprintf("%v continue=%t", names, list.GetContinue() != ""))
		if list.GetContinue() == "" {
			return out, nil
		}
		opts.Continue = list.GetContinue()
		opts.ResourceVersion = ""
	}
	return out, fmt.Errorf("more than 10 pages: %v", out)
}
