package releasecache

import (
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// TestReconvertAddsAndDropsKindsWithoutEvents: releases of a kind the converter learns are served
// once the relist after Reconvert ran, and dropped once it forgets the kind, without events, so
// watches of other kinds resume exactly from any revision; watches of a kind that is gone end.
func TestReconvertAddsAndDropsKindsWithoutEvents(t *testing.T) {
	var knowsNew atomic.Bool
	convert := func(hr *unstructured.Unstructured) (string, runtime.Object, bool) {
		if hr.GetLabels()["kind"] == "New" && !knowsNew.Load() {
			return "", nil, false
		}
		return testConverter(hr)
	}
	c := New(convert, 100, time.Minute)
	s := (*store)(c)
	old, fresh := map[string]string{"kind": "Old"}, map[string]string{"kind": "New"}
	list := []any{release("a", "o1", 5, old), release("a", "n1", 6, fresh), release("a", "n2", 7, fresh)}
	_ = s.Replace(list, "10")
	if objs, _ := c.List("New", ""); len(objs) != 0 {
		t.Fatalf("releases of an unknown kind are served: %d", len(objs))
	}
	oldWatch, err := c.Watch(WatchOptions{Kind: "Old", Matches: everything, NewObject: newObject, ResourceVersion: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer oldWatch.Stop()

	knowsNew.Store(true)
	c.Reconvert()
	_ = s.Replace(list, "12")
	if objs, _ := c.List("New", ""); len(objs) != 2 {
		t.Fatalf("after Reconvert the new kind has %d objects, want 2", len(objs))
	}
	// A real change after the reconversion is the only event other watches get, at its revision.
	_ = s.Update(release("a", "o1", 13, map[string]string{"kind": "Old", "v": "2"}))
	if got := describe(recv(t, oldWatch)); got != "MODIFIED o1@13" {
		t.Errorf("watch of another kind got %s, want MODIFIED o1@13", got)
	}
	resumed, err := c.Watch(WatchOptions{Kind: "Old", Matches: everything, NewObject: newObject, ResourceVersion: 12})
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(recv(t, resumed)); got != "MODIFIED o1@13" {
		t.Errorf("resuming at the reconversion's revision: %s, want MODIFIED o1@13", got)
	}
	resumed.Stop()

	newWatch, err := c.Watch(WatchOptions{Kind: "New", Matches: everything, NewObject: newObject, ResourceVersion: 13})
	if err != nil {
		t.Fatal(err)
	}
	knowsNew.Store(false)
	c.Reconvert()
	_ = s.Replace([]any{release("a", "o1", 13, map[string]string{"kind": "Old", "v": "2"}), release("a", "n1", 6, fresh), release("a", "n2", 7, fresh)}, "14")
	c.EndWatches("New")
	if objs, _ := c.List("New", ""); len(objs) != 0 {
		t.Errorf("a forgotten kind still has %d objects", len(objs))
	}
	select {
	case e, ok := <-newWatch.ResultChan():
		if ok {
			t.Errorf("the watch of a kind that is gone got %s instead of ending", describe(e))
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the watch of a kind that is gone did not end")
	}
	select {
	case e := <-oldWatch.ResultChan():
		if e.Type != watch.Bookmark {
			t.Errorf("dropping a kind sent %s to a watch of another kind", describe(e))
		}
	case <-time.After(100 * time.Millisecond):
	}
}
