package releasecache

import (
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// describe is "TYPE name@resourceVersion" of an event as a client sees it.
func describe(e watch.Event) string {
	if status, ok := e.Object.(*metav1.Status); ok {
		return fmt.Sprintf("%s %d", e.Type, status.Code)
	}
	return fmt.Sprintf("%s %s@%d", e.Type, nameOf(e.Object), resourceVersionOf(e.Object))
}

// drain reads n events.
func drain(t *testing.T, w watch.Interface, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, describe(recv(t, w)))
	}
	return out
}

func TestRelistEventsResumeExactly(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	s := (*store)(c)
	k := map[string]string{"kind": "K"}
	_ = s.Replace([]any{release("a", "a", 5, k), release("a", "b", 6, k), release("a", "c", 7, k), release("a", "d", 8, k)}, "10")
	// The watch broke; the relist at 20 finds a and b changed (at 15 and 12), c and d gone, e new.
	changed := map[string]string{"kind": "K", "changed": "yes"}
	_ = s.Replace([]any{release("a", "a", 15, changed), release("a", "b", 12, changed), release("a", "e", 18, k)}, "20")

	want := []string{"MODIFIED b@12", "MODIFIED a@15", "ADDED e@18", "DELETED c@20", "DELETED d@20"}
	for i, from := range []uint64{10, 12, 15, 18} {
		w, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: from})
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, w, len(want)-i)
		// Deletions at the same revision may come in either order.
		deletions := map[string]bool{got[len(got)-2]: true, got[len(got)-1]: true}
		if fmt.Sprint(got[:len(got)-2]) != fmt.Sprint(want[i:len(want)-2]) || !deletions["DELETED c@20"] || !deletions["DELETED d@20"] {
			t.Errorf("from %d: got %v, want %v", from, got, want[i:])
		}
		w.Stop()
	}
	// Resuming at 20 could mean after either deletion: the client must relist.
	w, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: 20})
	if err != nil {
		t.Fatal(err)
	}
	e := recv(t, w)
	if status, ok := e.Object.(*metav1.Status); e.Type != watch.Error || !ok || !apierrors.IsResourceExpired(apierrors.FromObject(status)) {
		t.Errorf("resume at a resourceVersion several relist changes share: want 410, got %s", describe(e))
	}
}

func TestSlowWatcherIsCutWhileItCanResume(t *testing.T) {
	c := New(testConverter, 10, time.Minute) // pending limit: half the log, 5
	s := (*store)(c)
	k := map[string]string{"kind": "K"}
	_ = s.Replace(nil, "1")
	slow, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	for rv := 2; rv <= 12; rv++ {
		_ = s.Add(release("a", fmt.Sprint("o", rv), rv, k))
	}
	var received []string
	last := uint64(1)
	for {
		e := recv(t, slow)
		if e.Type == watch.Error {
			status, _ := e.Object.(*metav1.Status)
			if status == nil || status.Code != 429 {
				t.Fatalf("the stream of a slow watcher ends with %s, want a 429 saying why", describe(e))
			}
			break
		}
		received = append(received, describe(e))
		last = uint64(resourceVersionOf(e.Object))
	}
	// Cut before it had everything: at most the pending limit queued plus what its goroutine held.
	if len(received) == 0 || len(received) >= 11 {
		t.Fatalf("a watcher never read from got %d events before being cut: %v", len(received), received)
	}
	// Resuming from the last event received loses and repeats nothing.
	resumed, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: last})
	if err != nil {
		t.Fatal(err)
	}
	rest := drain(t, resumed, int(12-last))
	all := append(received, rest...)
	for i, got := range all {
		if want := fmt.Sprintf("ADDED o%d@%d", i+2, i+2); got != want {
			t.Fatalf("event %d after resuming: got %s, want %s (all: %v)", i, got, want, all)
		}
	}
}
