package releasecache

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// switchableScope is a NamespaceScope whose answers the test changes, as a RoleBinding would.
type switchableScope struct {
	mu      sync.Mutex
	visible map[string]bool
	asked   chan []string
}

func (s *switchableScope) Decide(namespaces []string) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, ns := range namespaces {
		out[ns] = s.visible[ns]
	}
	select {
	case s.asked <- namespaces:
	default:
	}
	return out
}

func (s *switchableScope) set(ns string, visible bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.visible[ns] = visible
}

// A watch across namespaces with a scope sees only the visible namespaces — in its initial
// events, its replays and its live events — and a namespace becoming visible or invisible while it
// is open turns into ADDED or DELETED events for that namespace's objects, then a bookmark.
func TestScopedWatchFollowsVisibility(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts WatchOptions
		want []string
	}{
		{"initial events", WatchOptions{InitialEvents: true}, []string{"ADDED a@5"}},
		{"replay", WatchOptions{ResourceVersion: 6}, []string{"MODIFIED a@8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(testConverter, 100, time.Minute)
			s := (*store)(c)
			if err := s.Replace([]any{changed("mine", "a", 5), changed("theirs", "b", 6)}, "6"); err != nil {
				t.Fatal(err)
			}
			_ = s.Update(changed("theirs", "b", 7))
			_ = s.Update(changed("mine", "a", 8))
			if tc.opts.InitialEvents {
				tc.want = []string{"ADDED a@8"}
			}
			scope := &switchableScope{visible: map[string]bool{"mine": true}, asked: make(chan []string, 10)}
			opts := tc.opts
			opts.Kind, opts.Matches, opts.NewObject, opts.Bookmarks = "K", everything, newObject, true
			opts.Scope, opts.ScopeRefresh = scope, 50*time.Millisecond
			w, err := c.Watch(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			if got := drain(t, w, len(tc.want)); !equalStrings(got, tc.want) {
				t.Fatalf("start: %v, want %v", got, tc.want)
			}
			// Live events: the other tenant's change is not delivered, ours is.
			_ = s.Update(changed("theirs", "b", 11))
			_ = s.Update(changed("mine", "a", 12))
			if got := drain(t, w, 1); !equalStrings(got, []string{"MODIFIED a@12"}) {
				t.Fatalf("live: %v", got)
			}
			// A namespace is decided when first met: its object comes once it is visible.
			scope.set("new", true)
			_ = s.Add(changed("new", "c", 13))
			if got := drain(t, w, 2); !equalStrings(got, []string{"ADDED c@13", "BOOKMARK @13"}) {
				t.Fatalf("new namespace: %v", got)
			}
			// Access granted and revoked while the watch is open.
			scope.set("theirs", true)
			if got := drain(t, w, 2); !equalStrings(got, []string{"ADDED b@11", "BOOKMARK @13"}) {
				t.Fatalf("granted: %v", got)
			}
			scope.set("theirs", false)
			if got := drain(t, w, 2); !equalStrings(got, []string{"DELETED b@13", "BOOKMARK @13"}) {
				t.Fatalf("revoked: %v", got)
			}
			_ = s.Update(changed("theirs", "b", 14))
			_ = s.Delete(changed("new", "c", 15))
			if got := drain(t, w, 1); !equalStrings(got, []string{"DELETED c@15"}) {
				t.Fatalf("after revoking: %v", got)
			}
		})
	}
}

// A deletion in a namespace that no longer holds objects is still delivered to a watch resuming
// before it: the namespaces of the replayed events are decided before the watch starts.
func TestScopedReplayDeliversDeletionsInEmptiedNamespaces(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	s := (*store)(c)
	if err := s.Replace([]any{changed("mine", "a", 5)}, "10"); err != nil {
		t.Fatal(err)
	}
	_ = s.Delete(changed("mine", "a", 11))
	scope := &switchableScope{visible: map[string]bool{"mine": true}, asked: make(chan []string, 10)}
	w, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: 10, Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if got := drain(t, w, 1); !equalStrings(got, []string{"DELETED a@11"}) {
		t.Fatalf("replay: %v", got)
	}
	select {
	case e := <-w.ResultChan():
		t.Fatalf("unexpected %s", describe(e))
	case <-time.After(100 * time.Millisecond):
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// changed is a release of kind K whose object differs at every resourceVersion (a label carries it),
// so each update is a visible change.
func changed(ns, name string, rv int) *unstructured.Unstructured {
	return release(ns, name, rv, map[string]string{"kind": "K", "at": fmt.Sprint(rv)})
}
