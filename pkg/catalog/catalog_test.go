package catalog

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// published records what the catalog serves.
type published struct {
	mu      sync.Mutex
	kinds   map[string]*kinds.Defined // by resource
	layouts map[string]*release.Layout
	fail    map[string]bool // definitions the publisher refuses
}

func (p *published) publish(set Published) map[string]error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.kinds, p.layouts = map[string]*kinds.Defined{}, set.TypedLayouts
	failed := map[string]error{}
	for _, d := range set.Defined {
		if p.fail[d.Definition] {
			failed[d.Definition] = context.DeadlineExceeded
			continue
		}
		p.kinds[d.Kind.Resource] = d
	}
	return failed
}

func (p *published) served(resource string) *kinds.Defined {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kinds[resource]
}

// typedLayout is the layout the catalog last published for a typed kind's resource, nil for none.
func (p *published) typedLayout(resource string) *release.Layout {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.layouts[resource]
}

func definition(name, kind, plural, prefix, schema string, created time.Time) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cozystack.io/v1alpha1", "kind": "ApplicationDefinition",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"application": map[string]any{"kind": kind, "plural": plural, "singular": strings.TrimSuffix(plural, "s"), "openAPISchema": schema},
			"release":     map[string]any{"prefix": prefix, "chartRef": map[string]any{"kind": "ExternalArtifact", "name": name, "namespace": "cozy-system"}},
		},
	}}
	u.SetCreationTimestamp(metav1.NewTime(created))
	u.SetResourceVersion("1")
	return u
}

type harness struct {
	t        *testing.T
	catalog  *Catalog
	events   []string
	client   *dynamicfake.FakeDynamicClient
	out      *published
	recorder *record.FakeRecorder
}

func start(t *testing.T, defs ...runtime.Object) *harness {
	t.Helper()
	scheme := runtime.NewScheme()
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme,
		map[schema.GroupVersionResource]string{kinds.ApplicationDefinitionGVR: "ApplicationDefinitionList"}, defs...)
	h := &harness{t: t, client: client, out: &published{fail: map[string]bool{}}, recorder: record.NewFakeRecorder(100)}
	c := New(client, kinds.All(), h.out.publish, h.recorder)
	h.catalog = c
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Run(ctx)
	return h
}

func (h *harness) await(what string, cond func() bool) {
	h.t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	}); err != nil {
		h.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// awaitEvent waits for an event whose text contains every part.
func (h *harness) awaitEvent(parts ...string) string {
	h.t.Helper()
	timeout := time.After(5 * time.Second)
	matches := func(e string) bool {
		for _, p := range parts {
			if !strings.Contains(e, p) {
				return false
			}
		}
		return true
	}
	for _, e := range h.events {
		if matches(e) {
			return e
		}
	}
	for {
		select {
		case e := <-h.recorder.Events:
			h.events = append(h.events, e)
			if matches(e) {
				return e
			}
		case <-timeout:
			h.t.Fatalf("no event with %q", parts)
		}
	}
}

func (h *harness) update(def *unstructured.Unstructured) {
	h.t.Helper()
	if _, err := h.client.Resource(kinds.ApplicationDefinitionGVR).Update(context.Background(), def, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

const widgetSchema = `{"type":"object","properties":{"size":{"type":"integer","default":1}}}`

func TestValidDefinitionsAreServed(t *testing.T) {
	now := time.Now()
	h := start(t,
		definition("widget", "Widget", "widgets", "widget-", widgetSchema, now),
		definition("gadget", "Gadget", "gadgets", "", `{"type":"object","properties":{"extra":{"additionalProperties":true}}}`, now))
	h.await("both kinds served", func() bool { return h.out.served("widgets") != nil && h.out.served("gadgets") != nil })
	h.awaitEvent(ReasonSchemaRewritten, "gadget", "additionalProperties")
}

func TestNamesOfTypedKindsAndOlderDefinitionsWin(t *testing.T) {
	now := time.Now()
	h := start(t,
		definition("fake-buckets", "FakeBucket", "buckets", "fake-", widgetSchema, now),
		definition("first", "Widget", "widgets", "widget-", widgetSchema, now),
		definition("second", "Widget", "widgetz", "other-", widgetSchema, now.Add(time.Second)),
		definition("bucket", "Bucket", "buckets", "bucket-", widgetSchema, now))
	h.await("the first widget served", func() bool { return h.out.served("widgets") != nil })
	h.awaitEvent(ReasonNameConflict, "Widget", "first")
	if h.out.served("buckets") != nil || h.out.served("widgetz") != nil {
		t.Errorf("a conflicting definition is served")
	}
	h.awaitEvent(ReasonTypedKind, "Bucket")
}

func TestTypedKindsTakeTheirDefinitionsReleaseLayout(t *testing.T) {
	now := time.Now()
	h := start(t,
		definition("widget", "Widget", "widgets", "widget-", widgetSchema, now),
		definition("bucket", "Bucket", "buckets", "b-", widgetSchema, now.Add(time.Second)),
		definition("kubernetes", "Kubernetes", "kuberneteses", "widget-", widgetSchema, now.Add(time.Second)))
	h.await("Bucket's new layout", func() bool {
		l := h.out.typedLayout("buckets")
		return l != nil && l.ReleasePrefix == "b-" && l.Chart.ChartRef.Name == "bucket"
	})
	h.awaitEvent(ReasonTypedKind, "Bucket", `"b-<name>"`)
	// A typed kind never takes the prefix a defined kind's releases hold.
	h.awaitEvent(ReasonInvalidDefinition, "Kubernetes", `"widget-" is already used by the ApplicationDefinition widget`)
	if h.out.typedLayout("kuberneteses") != nil || h.out.served("widgets") == nil {
		t.Errorf("Kubernetes took the Widget's prefix: %+v", h.out.typedLayout("kuberneteses"))
	}
	// Without its definition the typed kind has its own layout again.
	if err := h.client.Resource(kinds.ApplicationDefinitionGVR).Delete(context.Background(), "bucket", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.await("Bucket's own layout", func() bool { return h.out.typedLayout("buckets") == nil })
}

func TestAnInvalidChangeKeepsWhatWasServed(t *testing.T) {
	def := definition("widget", "Widget", "widgets", "widget-", widgetSchema, time.Now())
	h := start(t, def.DeepCopy())
	h.await("widget served", func() bool { return h.out.served("widgets") != nil })
	served := h.out.served("widgets")
	bad := def.DeepCopy()
	bad.SetResourceVersion("2")
	_ = unstructured.SetNestedField(bad.Object, `{"type":"object","properties":{"a":{"$ref":"#/x"}}}`, "spec", "application", "openAPISchema")
	h.update(bad)
	h.awaitEvent(ReasonInvalidDefinition, "still serving")
	if h.out.served("widgets") != served {
		t.Errorf("the kind served before an invalid change was replaced")
	}
	// Deleted: nothing is served.
	if err := h.client.Resource(kinds.ApplicationDefinitionGVR).Delete(context.Background(), "widget", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.await("widget no longer served", func() bool { return h.out.served("widgets") == nil })
}

func TestAKindThePublisherCannotServeIsReported(t *testing.T) {
	h := start(t)
	h.out.fail["widget"] = true
	if _, err := h.client.Resource(kinds.ApplicationDefinitionGVR).Create(context.Background(),
		definition("widget", "Widget", "widgets", "widget-", widgetSchema, time.Now()), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.awaitEvent(ReasonInvalidDefinition, "not served")
}

func TestReadyOnceTheDefinitionsAtStartAreServed(t *testing.T) {
	h := start(t, definition("widget", "Widget", "widgets", "widget-", widgetSchema, time.Now()))
	h.await("ready", func() bool { return h.catalog.Ready() == nil })
	if h.out.served("widgets") == nil {
		t.Errorf("ready before the definitions at start were served")
	}
	empty := start(t)
	empty.await("ready without definitions", func() bool { return empty.catalog.Ready() == nil })
}

func TestReadyWithoutTheCRD(t *testing.T) {
	scheme := runtime.NewScheme()
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme,
		map[schema.GroupVersionResource]string{kinds.ApplicationDefinitionGVR: "ApplicationDefinitionList"})
	client.PrependReactor("list", "applicationdefinitions", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(kinds.ApplicationDefinitionGVR.GroupResource(), "")
	})
	c := New(client, kinds.All(), (&published{}).publish, nil)
	if c.Ready() == nil {
		t.Fatal("ready before listing")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return c.Ready() == nil, nil
	}); err != nil {
		t.Fatalf("not ready without the CRD: %v", c.Ready())
	}
}
