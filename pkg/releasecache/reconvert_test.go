package releasecache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// upstream is a fake kube-apiserver's HelmRelease list for reconversion rounds: it serves its
// releases filtered by the request's label selector, records each selector, and runs duringList
// (a change the watch delivers while the list is on its way) once per list.
type upstream struct {
	mu         sync.Mutex
	releases   []*unstructured.Unstructured
	rv         string
	selectors  []string
	duringList func()
}

func (u *upstream) lister() cache.ListerWatcherWithContext {
	return cache.ToListerWatcherWithContext(&cache.ListWatch{
		ListWithContextFunc: func(_ context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			u.mu.Lock()
			defer u.mu.Unlock()
			u.selectors = append(u.selectors, opts.LabelSelector)
			selector, err := labels.Parse(opts.LabelSelector)
			if err != nil {
				return nil, err
			}
			list := &unstructured.UnstructuredList{}
			list.SetResourceVersion(u.rv)
			for _, hr := range u.releases {
				if selector.Matches(labels.Set(hr.GetLabels())) {
					list.Items = append(list.Items, *hr.DeepCopy())
				}
			}
			if u.duringList != nil {
				u.duringList()
			}
			return list, nil
		},
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) {
			return nil, errors.New("not watched")
		},
	})
}

// newKindConverter converts releases of the kind "New" only while knowsNew is set.
func newKindConverter(knowsNew *atomic.Bool) Converter {
	return func(hr *unstructured.Unstructured) (string, runtime.Object, bool) {
		if hr.GetLabels()["kind"] == "New" && !knowsNew.Load() {
			return "", nil, false
		}
		return testConverter(hr)
	}
}

func names(objs []runtime.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, nameOf(o))
	}
	slices.Sort(out)
	return out
}

// TestReconvertAddsAndDropsKindsWithoutEvents: releases of a kind the converter learns are served
// once a reconversion round listed that kind's releases alone, and dropped once it forgets the
// kind, without events, so watches of other kinds resume exactly from any revision; watches of a
// kind that is gone end.
func TestReconvertAddsAndDropsKindsWithoutEvents(t *testing.T) {
	var knowsNew atomic.Bool
	c := New(newKindConverter(&knowsNew), 100, time.Minute)
	c.SetKindLabel("kind")
	s := (*store)(c)
	old, fresh := map[string]string{"kind": "Old"}, map[string]string{"kind": "New"}
	up := &upstream{rv: "10", releases: []*unstructured.Unstructured{release("a", "o1", 5, old), release("a", "n1", 6, fresh), release("a", "n2", 7, fresh)}}
	_ = s.Replace([]any{up.releases[0], up.releases[1], up.releases[2]}, "10")
	if objs, _ := c.List("New", ""); len(objs) != 0 {
		t.Fatalf("releases of an unknown kind are served: %d", len(objs))
	}
	oldWatch, err := c.Watch(WatchOptions{Kind: "Old", Matches: everything, NewObject: newObject, ResourceVersion: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer oldWatch.Stop()

	knowsNew.Store(true)
	if err := c.reconvertRound(context.Background(), up.lister(), []string{"New"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"kind in (New)"}; !slices.Equal(up.selectors, want) {
		t.Errorf("the round listed with selectors %q, want %q", up.selectors, want)
	}
	if objs, _ := c.List("New", ""); !slices.Equal(names(objs), []string{"n1", "n2"}) {
		t.Fatalf("after the round the new kind has %v, want [n1 n2]", names(objs))
	}
	// A real change after the reconversion is the only event other watches get, at its revision.
	_ = s.Update(release("a", "o1", 13, map[string]string{"kind": "Old", "v": "2"}))
	if got := describe(recv(t, oldWatch)); got != "MODIFIED o1@13" {
		t.Errorf("watch of another kind got %s, want MODIFIED o1@13", got)
	}
	resumed, err := c.Watch(WatchOptions{Kind: "Old", Matches: everything, NewObject: newObject, ResourceVersion: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(recv(t, resumed)); got != "MODIFIED o1@13" {
		t.Errorf("resuming from before the reconversion: %s, want MODIFIED o1@13", got)
	}
	resumed.Stop()

	newWatch, err := c.Watch(WatchOptions{Kind: "New", Matches: everything, NewObject: newObject, ResourceVersion: 13})
	if err != nil {
		t.Fatal(err)
	}
	knowsNew.Store(false)
	if err := c.reconvertRound(context.Background(), up.lister(), []string{"New"}); err != nil {
		t.Fatal(err)
	}
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

// TestReconvertRoundYieldsToTheWatch: what the upstream watch delivers while a round lists wins
// over the round's list: a release deleted after the list stays deleted, one changed after it
// keeps its change (and its event), and one whose listed revision the watch has not delivered yet
// is left for the watch.
func TestReconvertRoundYieldsToTheWatch(t *testing.T) {
	var knowsNew atomic.Bool
	c := New(newKindConverter(&knowsNew), 100, time.Minute)
	c.SetKindLabel("kind")
	s := (*store)(c)
	fresh := map[string]string{"kind": "New"}
	deleted, changed, unchanged := release("a", "deleted", 5, fresh), release("a", "changed", 6, fresh), release("a", "unchanged", 7, fresh)
	_ = s.Replace([]any{deleted, changed, unchanged}, "10")
	knowsNew.Store(true)
	c.Reconvert("New")
	watchNew, err := c.Watch(WatchOptions{Kind: "New", Matches: everything, NewObject: newObject, ResourceVersion: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer watchNew.Stop()
	up := &upstream{rv: "10", releases: []*unstructured.Unstructured{deleted, changed, unchanged}}
	up.duringList = func() {
		_ = s.Delete(release("a", "deleted", 13, fresh))
		_ = s.Update(release("a", "changed", 14, map[string]string{"kind": "New", "v": "2"}))
	}
	if err := c.reconvertRound(context.Background(), up.lister(), []string{"New"}); err != nil {
		t.Fatal(err)
	}
	if objs, _ := c.List("New", ""); !slices.Equal(names(objs), []string{"changed", "unchanged"}) {
		t.Fatalf("after the round: %v, want [changed unchanged]", names(objs))
	}
	if got := describe(recv(t, watchNew)); got != "ADDED changed@14" {
		t.Errorf("watch of the new kind got %s, want ADDED changed@14 (the change after the list)", got)
	}

	// The list is ahead of the watch: a release created at 15 is left for the watch, which
	// serves it with its event.
	ahead := release("a", "ahead", 15, fresh)
	up.rv, up.releases, up.duringList = "15", append(up.releases, ahead), nil
	if err := c.reconvertRound(context.Background(), up.lister(), []string{"New"}); err != nil {
		t.Fatal(err)
	}
	if objs, _ := c.List("New", ""); slices.Contains(names(objs), "ahead") {
		t.Fatalf("a release the watch has not delivered was served by the round")
	}
	_ = s.Update(ahead)
	if got := describe(recv(t, watchNew)); got != "ADDED ahead@15" {
		t.Errorf("watch of the new kind got %s, want ADDED ahead@15", got)
	}
}

// TestReconvertRoundRepeatsAfterARelist: a full relist while a round lists may have removed
// releases the round's list still holds, so the round is done again rather than applied.
func TestReconvertRoundRepeatsAfterARelist(t *testing.T) {
	var knowsNew atomic.Bool
	c := New(newKindConverter(&knowsNew), 100, time.Minute)
	s := (*store)(c)
	fresh := map[string]string{"kind": "New"}
	gone := release("a", "gone", 5, fresh)
	_ = s.Replace([]any{gone}, "10")
	knowsNew.Store(true)
	up := &upstream{rv: "10", releases: []*unstructured.Unstructured{gone}}
	up.duringList = func() { _ = s.Replace(nil, "15") }
	if err := c.reconvertRound(context.Background(), up.lister(), []string{"New"}); !errors.Is(err, errRelisted) {
		t.Fatalf("a round during a relist: %v, want errRelisted", err)
	}
	if objs, _ := c.List("New", ""); len(objs) != 0 {
		t.Errorf("a release the relist found gone was served: %v", names(objs))
	}
	if want := []string{""}; !slices.Equal(up.selectors, want) {
		t.Errorf("without a kind label the round listed with %q, want every release (%q)", up.selectors, want)
	}
}

// TestReconvertSelectsEveryReleaseForAKindThatIsNoLabelValue: a kind label value no selector can
// hold (it is not a label value) makes the round list every release of any kind.
func TestReconvertSelectsEveryReleaseForAKindThatIsNoLabelValue(t *testing.T) {
	c := New(testConverter, 100, time.Minute)
	c.SetKindLabel("kind")
	got, err := c.kindSelectorLocked([]string{"New", "not a label value!"})
	if err != nil || got != "kind" {
		t.Errorf("selector %q (%v), want %q", got, err, "kind")
	}
}

// TestAChangeConvertedAcrossReconvertIsConvertedAgain: a change the watch delivers while the
// converter's kinds change is converted again before it is stored, so it never keeps the old
// kinds' conversion that no round will revisit.
func TestAChangeConvertedAcrossReconvertIsConvertedAgain(t *testing.T) {
	var knowsNew atomic.Bool
	var c *Cache
	var once sync.Once
	c = New(func(hr *unstructured.Unstructured) (string, runtime.Object, bool) {
		kind, obj, ok := newKindConverter(&knowsNew)(hr)
		// The kind is defined while this conversion runs, after it read the old kinds.
		once.Do(func() {
			knowsNew.Store(true)
			c.Reconvert("New")
		})
		return kind, obj, ok
	}, 100, time.Minute)
	s := (*store)(c)
	_ = s.Replace(nil, "10")
	_ = s.Update(release("a", "n1", 11, map[string]string{"kind": "New"}))
	if objs, _ := c.List("New", ""); !slices.Equal(names(objs), []string{"n1"}) {
		t.Errorf("a release of a kind defined during its conversion: %v, want [n1]", names(objs))
	}
}

// TestReconvertRunsRoundsUntilStopped: Reconvert's requests are served by rounds that Run starts,
// and a round that fails is retried.
func TestReconvertRunsRoundsUntilStopped(t *testing.T) {
	var knowsNew atomic.Bool
	c := New(newKindConverter(&knowsNew), 100, time.Minute)
	c.SetKindLabel("kind")
	s := (*store)(c)
	n1 := release("a", "n1", 5, map[string]string{"kind": "New"})
	_ = s.Replace([]any{n1}, "10")
	up := &upstream{rv: "10", releases: []*unstructured.Unstructured{n1}}
	var failures atomic.Int32
	lw := up.lister()
	failing := cache.ToListerWatcherWithContext(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			if failures.Add(1) == 1 {
				return nil, errors.New("upstream unavailable")
			}
			return lw.ListWithContext(ctx, opts)
		},
		WatchFuncWithContext: lw.WatchWithContext,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		c.runReconversions(ctx, failing)
		close(done)
	}()
	knowsNew.Store(true)
	c.Reconvert("New")
	waitCtx, waitCancel := context.WithTimeout(ctx, 10*time.Second)
	defer waitCancel()
	if err := c.waitFor(waitCtx, func() bool { objs, _ := c.List("New", ""); return len(objs) == 1 }); err != nil {
		t.Fatalf("the new kind's release was not served after a failed and a retried round: %v", err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the rounds did not stop with their context")
	}
}

// TestTheInitialListSettlesTheKindsAskedBeforeIt: kinds asked for before the initial list began are
// converted by it and need no round; kinds asked for while it converted are left to one (it is not
// converted again: at 100,000 releases that would take as long as the list).
func TestTheInitialListSettlesTheKindsAskedBeforeIt(t *testing.T) {
	var knowsNew atomic.Bool
	knowsNew.Store(true)
	before := New(newKindConverter(&knowsNew), 100, time.Minute)
	before.Reconvert("New")
	_ = (*store)(before).Replace([]any{release("a", "n1", 5, map[string]string{"kind": "New"})}, "10")
	if objs, _ := before.List("New", ""); len(objs) != 1 || len(before.reconvertKinds) != 0 {
		t.Errorf("asked before the initial list: %d objects served, rounds still asked for %v", len(objs), before.reconvertKinds)
	}

	var during *Cache
	var once sync.Once
	during = New(func(hr *unstructured.Unstructured) (string, runtime.Object, bool) {
		once.Do(func() { during.Reconvert("Later") })
		return testConverter(hr)
	}, 100, time.Minute)
	_ = (*store)(during).Replace([]any{release("a", "n1", 5, map[string]string{"kind": "New"})}, "10")
	if _, asked := during.reconvertKinds["Later"]; !asked {
		t.Errorf("a kind asked for while the initial list converted is left to no round: %v", during.reconvertKinds)
	}
}
