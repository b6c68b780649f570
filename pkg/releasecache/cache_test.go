package releasecache

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// The tests convert a release into a ConfigMap-shaped object: the cache only needs metadata.
func testConverter(hr *unstructured.Unstructured) (string, runtime.Object, bool) {
	kind := hr.GetLabels()["kind"]
	if kind == "" {
		return "", nil, false
	}
	obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: hr.GetName(), Namespace: hr.GetNamespace(), ResourceVersion: hr.GetResourceVersion(), Labels: hr.GetLabels(),
		UID: hr.GetUID(), DeletionTimestamp: hr.GetDeletionTimestamp(),
	}}
	return kind, obj, true
}

func release(ns, name string, rv int, labels map[string]string) *unstructured.Unstructured {
	hr := &unstructured.Unstructured{Object: map[string]any{}}
	hr.SetNamespace(ns)
	hr.SetName(name)
	hr.SetResourceVersion(fmt.Sprint(rv))
	hr.SetLabels(labels)
	return hr
}

func everything(runtime.Object) bool { return true }

func newObject() runtime.Object { return &metav1.PartialObjectMetadata{} }

func recv(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case e := <-w.ResultChan():
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return watch.Event{}
	}
}

func nameOf(obj runtime.Object) string {
	m, _ := meta.Accessor(obj)
	return m.GetName()
}

func TestStoreAndRead(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	s := (*store)(c)
	if err := s.Replace([]any{release("a", "x", 5, map[string]string{"kind": "K"}), release("a", "ignored", 6, nil)}, "10"); err != nil {
		t.Fatal(err)
	}
	if !c.HasSynced() || c.ResourceVersion() != 10 {
		t.Fatalf("synced %v rv %d", c.HasSynced(), c.ResourceVersion())
	}
	if _, ok := c.Get("K", "a", "x"); !ok {
		t.Error("x missing")
	}
	if objs, _ := c.List("K", ""); len(objs) != 1 {
		t.Errorf("list = %v; releases without the kind label must be ignored", objs)
	}
	_ = s.Add(release("b", "y", 11, map[string]string{"kind": "K"}))
	if objs, _ := c.List("K", "b"); len(objs) != 1 {
		t.Errorf("namespace list = %v", objs)
	}
	_ = s.Delete(release("a", "x", 12, map[string]string{"kind": "K"}))
	if _, ok := c.Get("K", "a", "x"); ok {
		t.Error("x still present after delete")
	}
	if c.ResourceVersion() != 12 {
		t.Errorf("rv = %d", c.ResourceVersion())
	}
}

func TestWatchReplaysFromResourceVersion(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	s := (*store)(c)
	_ = s.Replace(nil, "10")
	_ = s.Add(release("a", "x", 11, map[string]string{"kind": "K"}))
	_ = s.Add(release("a", "other-kind", 12, map[string]string{"kind": "L"}))
	_ = s.Update(release("a", "x", 13, map[string]string{"kind": "K", "changed": "yes"}))
	_ = s.Delete(release("a", "x", 14, map[string]string{"kind": "K", "changed": "yes"}))

	w, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: 11})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if e := recv(t, w); e.Type != watch.Modified || nameOf(e.Object) != "x" {
		t.Errorf("first replayed event %s %s", e.Type, nameOf(e.Object))
	}
	e := recv(t, w)
	if m, _ := meta.Accessor(e.Object); e.Type != watch.Deleted || m.GetResourceVersion() != "14" {
		t.Errorf("deletion replayed as %s at rv %s", e.Type, m.GetResourceVersion())
	}
	// A live event after the replay.
	_ = s.Add(release("a", "z", 15, map[string]string{"kind": "K"}))
	if e := recv(t, w); e.Type != watch.Added || nameOf(e.Object) != "z" {
		t.Errorf("live event %s %s", e.Type, nameOf(e.Object))
	}
}

func TestWatchTooOldIsGone(t *testing.T) {
	c := New(testConverter, 2, time.Minute)
	s := (*store)(c)
	_ = s.Replace(nil, "10")
	expectGone := func(what string, rv uint64) {
		t.Helper()
		w, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: rv})
		if err != nil {
			t.Fatalf("%s: the watch must be established (its stream says 410), got %v", what, err)
		}
		e, open := <-w.ResultChan()
		status, _ := e.Object.(*metav1.Status)
		if !open || e.Type != watch.Error || status == nil || status.Code != 410 || status.Reason != metav1.StatusReasonExpired {
			t.Errorf("%s: want one ERROR event with 410 Expired, got %s %v", what, e.Type, e.Object)
		}
		if _, open := <-w.ResultChan(); open {
			t.Errorf("%s: the watch must end after its ERROR event", what)
		}
	}
	expectGone("watch from before the initial list", 9)
	for rv := 11; rv <= 14; rv++ {
		_ = s.Add(release("a", fmt.Sprint("o", rv), rv, map[string]string{"kind": "K"}))
	}
	expectGone("watch from an evicted revision", 11)
	w, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: 12})
	if err != nil {
		t.Fatalf("watch from a kept revision: %v", err)
	}
	w.Stop()
}

func TestWatchSelectorTransitions(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	s := (*store)(c)
	_ = s.Replace(nil, "10")
	blue := func(obj runtime.Object) bool {
		m, _ := meta.Accessor(obj)
		return m.GetLabels()["color"] == "blue"
	}
	w, err := c.Watch(WatchOptions{Kind: "K", Matches: blue, NewObject: newObject, ResourceVersion: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	_ = s.Add(release("a", "x", 11, map[string]string{"kind": "K", "color": "red"}))
	_ = s.Update(release("a", "x", 12, map[string]string{"kind": "K", "color": "blue"}))
	_ = s.Update(release("a", "x", 13, map[string]string{"kind": "K", "color": "red"}))
	if e := recv(t, w); e.Type != watch.Added {
		t.Errorf("entering the selection: %s", e.Type)
	}
	e := recv(t, w)
	if m, _ := meta.Accessor(e.Object); e.Type != watch.Deleted || m.GetResourceVersion() != "13" {
		t.Errorf("leaving the selection: %s at %s", e.Type, m.GetResourceVersion())
	}
}

func TestInitialEventsAndBookmark(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	s := (*store)(c)
	_ = s.Replace([]any{release("a", "x", 5, map[string]string{"kind": "K"}), release("b", "y", 6, map[string]string{"kind": "K"})}, "10")
	w, err := c.Watch(WatchOptions{Kind: "K", Namespace: "a", Matches: everything, NewObject: newObject, InitialEvents: true, InitialEventsEndBookmark: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if e := recv(t, w); e.Type != watch.Added || nameOf(e.Object) != "x" {
		t.Errorf("initial event %s %s", e.Type, nameOf(e.Object))
	}
	e := recv(t, w)
	m, _ := meta.Accessor(e.Object)
	if e.Type != watch.Bookmark || m.GetAnnotations()[metav1.InitialEventsAnnotationKey] != "true" || m.GetResourceVersion() != "10" {
		t.Errorf("end of initial events: %s %v %s", e.Type, m.GetAnnotations(), m.GetResourceVersion())
	}
}

func TestInvisibleChangesMakeNoEvent(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	s := (*store)(c)
	_ = s.Replace([]any{release("a", "x", 5, map[string]string{"kind": "K"})}, "10")
	w, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	_ = s.Update(release("a", "x", 11, map[string]string{"kind": "K"})) // same visible content
	_ = s.Update(release("a", "x", 12, map[string]string{"kind": "K", "team": "b"}))
	if e := recv(t, w); e.Type != watch.Modified || resourceVersionOf(e.Object) != 12 {
		t.Errorf("want only the visible change at 12, got %s at %d", e.Type, resourceVersionOf(e.Object))
	}
	if obj, _ := c.Get("K", "a", "x"); resourceVersionOf(obj) != 12 {
		t.Errorf("cached version %d", resourceVersionOf(obj))
	}
}

func TestWatchersShareOneEncoding(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	s := (*store)(c)
	_ = s.Replace(nil, "10")
	var watchers []watch.Interface
	for i := 0; i < 3; i++ {
		w, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: 10})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		watchers = append(watchers, w)
	}
	_ = s.Add(release("a", "x", 11, map[string]string{"kind": "K"}))
	encodes := 0
	encode := func(obj runtime.Object, w io.Writer) error {
		encodes++
		_, err := w.Write([]byte(nameOf(obj)))
		return err
	}
	for _, w := range watchers {
		co, ok := recv(t, w).Object.(runtime.CacheableObject)
		if !ok {
			t.Fatal("the event object is not cacheable")
		}
		var buf bytes.Buffer
		if err := co.CacheEncode("json", encode, &buf); err != nil || buf.String() != "x" {
			t.Fatalf("CacheEncode: %v %q", err, buf.String())
		}
	}
	if encodes != 1 {
		t.Errorf("%d watchers caused %d encodings, want 1", len(watchers), encodes)
	}
}

func TestWatchFromAFutureRevisionWaitsForIt(t *testing.T) {
	c := New(testConverter, 10, time.Minute)
	s := (*store)(c)
	_ = s.Replace(nil, "10")
	w, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: 12})
	if err != nil {
		t.Fatalf("a watch from a future resourceVersion is established: %v", err)
	}
	defer w.Stop()
	_ = s.Add(release("a", "early", 11, map[string]string{"kind": "K"}))
	_ = s.Add(release("a", "at", 12, map[string]string{"kind": "K"}))
	_ = s.Add(release("a", "later", 13, map[string]string{"kind": "K"}))
	if e := recv(t, w); nameOf(e.Object) != "later" {
		t.Errorf("first event is %s %s; events up to the requested resourceVersion must be skipped", e.Type, nameOf(e.Object))
	}
}
