package releasecache

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

func TestWaitForResourceVersion(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	s := (*store)(c)
	_ = s.Replace(nil, "10")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.AwaitResourceVersion(ctx, 11); err == nil {
		t.Fatal("waiting for a future revision returned before it arrived")
	}
	done := make(chan error, 1)
	go func() { done <- c.AwaitResourceVersion(context.Background(), 11) }()
	_ = s.Add(release("a", "x", 11, map[string]string{"kind": "K"}))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken by the write")
	}
}

func TestWaitCovers(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	s := (*store)(c)
	_ = s.Replace([]any{release("a", "x", 5, map[string]string{"kind": "K"}), release("a", "old", 6, map[string]string{"kind": "K"})}, "10")
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 50*time.Millisecond)
	}

	// Upstream at 20: x was updated at 15, old was deleted, y was created at 18.
	listed := []Listed{{"a", "x", 15}, {"a", "y", 18}}
	ctx, cancel := short()
	defer cancel()
	if err := c.WaitCovers(ctx, "K", "a", listed, 20); err == nil {
		t.Fatal("covered before the cache saw the changes")
	}
	done := make(chan error, 1)
	go func() { done <- c.WaitCovers(context.Background(), "K", "a", listed, 20) }()
	_ = s.Update(release("a", "x", 15, map[string]string{"kind": "K"}))
	_ = s.Delete(release("a", "old", 16, map[string]string{"kind": "K"}))
	select {
	case <-done:
		t.Fatal("covered while y was still missing")
	case <-time.After(20 * time.Millisecond):
	}
	_ = s.Add(release("a", "y", 18, map[string]string{"kind": "K"}))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not covered after every change arrived")
	}
}

func TestWaitCoversWaitsOutStaleObjects(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	s := (*store)(c)
	_ = s.Replace([]any{release("a", "x", 5, map[string]string{"kind": "K"}), release("b", "old", 6, map[string]string{"kind": "K"})}, "10")
	// Upstream at 12 no longer has "old" (deleted at 11), in another namespace than x: a list
	// across namespaces must wait for that deletion, a list of x's namespace need not.
	listed := []Listed{{"a", "x", 5}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.WaitCovers(ctx, "K", "a", listed, 12); err != nil {
		t.Errorf("a list of namespace a waited for namespace b: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := c.WaitCovers(ctx2, "K", "", listed, 12); err == nil {
		t.Fatal("covered while the cache still held an object the upstream list no longer has")
	}
	done := make(chan error, 1)
	go func() { done <- c.WaitCovers(context.Background(), "K", "", listed, 12) }()
	_ = s.Delete(release("b", "old", 11, map[string]string{"kind": "K"}))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not covered after the deletion arrived, though the cache is still behind the list's revision")
	}
}

func TestAwaitSyncedWaitsForTheInitialList(t *testing.T) {
	c := New(testConverter, 10, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.AwaitSynced(ctx); err == nil {
		t.Fatal("an empty cache before its initial list must not count as synced")
	}
	done := make(chan error, 1)
	go func() { done <- c.AwaitSynced(context.Background()) }()
	_ = (*store)(c).Replace(nil, "10")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AwaitSynced did not return after the initial list")
	}
}

func TestAwaitDeletion(t *testing.T) {
	c := New(testConverter, 10, time.Minute)
	s := (*store)(c)
	held := release("a", "held", 11, map[string]string{"kind": "K"})
	held.SetUID("u-held")
	gone := release("a", "gone", 12, map[string]string{"kind": "K"})
	gone.SetUID("u-gone")
	_ = s.Replace([]any{held, gone}, "12")

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.AwaitDeletion(short, "K", "a", "held", "u-held"); err == nil {
		t.Fatal("an object that is neither gone nor marked is not deleted yet")
	}
	marked := held.DeepCopy()
	now := metav1.Now()
	marked.SetDeletionTimestamp(&now)
	marked.SetResourceVersion("13")
	_ = s.Update(marked)
	_ = s.Delete(release("a", "gone", 14, nil))
	ctx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	obj, err := c.AwaitDeletion(ctx, "K", "a", "held", "u-held")
	if err != nil || obj == nil || nameOf(obj) != "held" {
		t.Errorf("an object held by finalizers is returned as marked: %v %v", obj, err)
	}
	if obj, err := c.AwaitDeletion(ctx, "K", "a", "gone", "u-gone"); err != nil || obj != nil {
		t.Errorf("a gone object: %v %v", obj, err)
	}
	// Another object under the same name is not the deleted one.
	_ = s.Add(release("a", "gone", 15, map[string]string{"kind": "K"}))
	if obj, err := c.AwaitDeletion(ctx, "K", "a", "gone", "u-gone"); err != nil || obj != nil {
		t.Errorf("a new object under the deleted one's name: %v %v", obj, err)
	}
}

func TestRecordedWritesServeReadsOfTheirRevisionUntilTheWatchDeliversThem(t *testing.T) {
	c := New(testConverter, 10, time.Minute)
	s := (*store)(c)
	_ = s.Replace(nil, "10")
	events, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer events.Stop()

	obj, ok := c.RecordWrite(release("a", "x", 11, map[string]string{"kind": "K"}))
	if !ok || nameOf(obj) != "x" || resourceVersionOf(obj) != 11 {
		t.Fatalf("the write's own conversion: %v %v", obj, ok)
	}
	if got, ok := c.GetAtLeast("K", "a", "x", 11); !ok || resourceVersionOf(got) != 11 {
		t.Errorf("a read of the written revision before the watch delivers it: %v %v", got, ok)
	}
	if _, ok := c.GetAtLeast("K", "a", "x", 12); ok {
		t.Error("a read of a newer revision must not be served by an older write")
	}
	if _, ok := c.Get("K", "a", "x"); ok {
		t.Error("lists and plain reads follow the watch alone: the write is not in the cache yet")
	}
	if objects, _ := c.List("K", "a"); len(objects) != 0 {
		t.Errorf("lists follow the watch alone, got %d objects", len(objects))
	}
	if _, ok := c.RecordWrite(release("a", "y", 12, nil)); ok {
		t.Error("a release no kind converts is not recorded")
	}

	// The watch delivers it: one ADDED event, as for any change, and the record is let go.
	_ = s.Add(release("a", "x", 11, map[string]string{"kind": "K"}))
	if e := recv(t, events); e.Type != watch.Added || nameOf(e.Object) != "x" {
		t.Errorf("the watch's event for the write: %s %s", e.Type, nameOf(e.Object))
	}
	if len(c.written) != 0 {
		t.Errorf("a write the watch delivered must be forgotten, %d held", len(c.written))
	}
	_ = s.Update(release("a", "x", 12, map[string]string{"kind": "K", "v": "2"}))
	if got, ok := c.GetAtLeast("K", "a", "x", 11); !ok || resourceVersionOf(got) != 12 {
		t.Errorf("a newer revision from the watch answers a read of an older one: %v %v", got, ok)
	}

	// A write the watch has already passed is answered but not recorded.
	if _, ok := c.RecordWrite(release("a", "x", 12, map[string]string{"kind": "K", "v": "2"})); !ok || len(c.written) != 0 {
		t.Errorf("a write at or behind the watch must not be recorded: %v, %d held", ok, len(c.written))
	}
}
