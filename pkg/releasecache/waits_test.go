package releasecache

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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

func TestAwaitWriteReturnsTheCachedConversion(t *testing.T) {
	c := New(testConverter, 10, time.Minute)
	s := (*store)(c)
	_ = s.Replace(nil, "10")
	done := make(chan runtime.Object, 1)
	go func() {
		obj, err := c.AwaitWrite(context.Background(), "K", "a", "x", 11)
		if err != nil {
			t.Error(err)
		}
		done <- obj
	}()
	_ = s.Add(release("a", "x", 11, map[string]string{"kind": "K"}))
	select {
	case obj := <-done:
		if obj == nil || nameOf(obj) != "x" || resourceVersionOf(obj) != 11 {
			t.Fatalf("the written revision: %v", obj)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken by the write")
	}
	// A newer revision replaced it: the writer must convert its own, nothing is returned.
	_ = s.Update(release("a", "x", 12, map[string]string{"kind": "K"}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if obj, err := c.AwaitWrite(ctx, "K", "a", "x", 11); err != nil || obj != nil {
		t.Errorf("an older revision than the cached one: %v %v", obj, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := c.AwaitWrite(short, "K", "a", "x", 13); err == nil {
		t.Error("waiting for a future revision returned before it arrived")
	}
}
