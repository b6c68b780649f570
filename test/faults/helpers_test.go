package faults

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

var (
	bucketsGVR = schema.GroupVersionResource{Group: "apps.cozy.io", Version: "v1alpha1", Resource: "buckets"}
	bucketKind = kinds.ByName("Bucket")
)

// change is one event as the suite compares them: "TYPE name@resourceVersion".
type change struct {
	typ  watch.EventType
	name string
	rv   uint64
}

func (c change) String() string { return fmt.Sprintf("%s %s@%d", c.typ, c.name, c.rv) }

func rvOf(obj *unstructured.Unstructured) uint64 {
	rv, _ := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	return rv
}

// history is a sequence of changes and the state they lead to, safe for concurrent use.
type history struct {
	mu      sync.Mutex
	changes []change
	state   map[string]uint64
	// relists counts the times the watcher had to list again (410), after which the changes it
	// missed are folded into the list.
	relists int
	// resumes counts the watches re-opened from the last resourceVersion received.
	resumes int
	// cuts counts the watches the server ended with an ERROR other than 410 (a slow client).
	cuts int
}

func newHistory() *history { return &history{state: map[string]uint64{}} }

func (h *history) record(c change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.changes = append(h.changes, c)
	if c.typ == watch.Deleted {
		delete(h.state, c.name)
	} else {
		h.state[c.name] = c.rv
	}
}

// has reports whether the state holds name at rv or later.
func (h *history) has(name string, rv uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state[name] >= rv
}

func (h *history) snapshot() ([]change, map[string]uint64, int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	state := make(map[string]uint64, len(h.state))
	for k, v := range h.state {
		state[k] = v
	}
	return append([]change(nil), h.changes...), state, h.relists, h.resumes
}

// reference watches the Bucket releases straight from kube-apiserver, from rv, recording the
// changes under the objects' names: what every apps.cozy.io watcher must end up agreeing with.
func reference(t *testing.T, ctx context.Context, client dynamic.Interface, ns string, rv string) *history {
	t.Helper()
	h := newHistory()
	w, err := client.Resource(release.HelmReleaseGVR).Namespace(ns).Watch(ctx, metav1.ListOptions{
		ResourceVersion: rv, LabelSelector: bucketKind.ReleaseSelector()})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer w.Stop()
		for e := range w.ResultChan() {
			obj, ok := e.Object.(*unstructured.Unstructured)
			if !ok || e.Type == watch.Bookmark || e.Type == watch.Error {
				continue
			}
			h.record(change{e.Type, strings.TrimPrefix(obj.GetName(), bucketKind.Layout.ReleasePrefix), rvOf(obj)})
		}
	}()
	return h
}

// watcher is a client of apps.cozy.io that watches from rv and, like client-go's reflector,
// re-opens a watch that ends from the last resourceVersion it received and lists again when told
// that resourceVersion is gone (410), recording what it saw. With a gate, it reads nothing of its
// first watch until the gate closes: a slow client.
func watcher(ctx context.Context, client dynamic.Interface, ns string, rv string, gate ...<-chan struct{}) *history {
	h := newHistory()
	go func() {
		last := rv
		first := true
		for ctx.Err() == nil {
			if !first {
				h.mu.Lock()
				h.resumes++
				h.mu.Unlock()
			}
			first = false
			w, err := client.Resource(bucketsGVR).Namespace(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: last, AllowWatchBookmarks: true})
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if len(gate) > 0 {
				<-gate[0]
				gate = nil
			}
			for e := range w.ResultChan() {
				if e.Type == watch.Error {
					if apierrors.IsResourceExpired(apierrors.FromObject(e.Object)) || apierrors.IsGone(apierrors.FromObject(e.Object)) {
						last = relist(ctx, client, ns, h, last)
					} else {
						h.mu.Lock()
						h.cuts++
						h.mu.Unlock()
					}
					break
				}
				obj, ok := e.Object.(*unstructured.Unstructured)
				if !ok {
					continue
				}
				last = obj.GetResourceVersion()
				if e.Type != watch.Bookmark {
					h.record(change{e.Type, obj.GetName(), rvOf(obj)})
				}
			}
			w.Stop()
		}
	}()
	return h
}

// relist lists the objects and records the changes that lead from the watcher's state to the
// list, as an informer's Replace does, returning the list's resourceVersion.
func relist(ctx context.Context, client dynamic.Interface, ns string, h *history, last string) string {
	for ctx.Err() == nil {
		list, err := client.Resource(bucketsGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		h.mu.Lock()
		h.relists++
		h.mu.Unlock()
		_, state, _, _ := h.snapshot()
		seen := map[string]bool{}
		for _, it := range list.Items {
			seen[it.GetName()] = true
			if state[it.GetName()] != rvOf(&it) {
				typ := watch.Modified
				if _, ok := state[it.GetName()]; !ok {
					typ = watch.Added
				}
				h.record(change{typ, it.GetName(), rvOf(&it)})
			}
		}
		for name := range state {
			if !seen[name] {
				h.record(change{watch.Deleted, name, 0})
			}
		}
		return list.GetResourceVersion()
	}
	return last
}

// agree checks a watcher's history against the reference once both reached the final state:
// the same final state; no change repeated or out of order for any object; every change it saw
// is one the reference saw; and, for a watcher that never had to list again, exactly the
// reference's sequence. It returns the number of changes compared.
func agree(t *testing.T, who string, got, want *history) int {
	t.Helper()
	gotChanges, gotState, relists, _ := got.snapshot()
	wantChanges, wantState, _, _ := want.snapshot()
	if fmt.Sprint(gotState) != fmt.Sprint(wantState) {
		t.Errorf("%s ends in %v, the reference in %v", who, gotState, wantState)
	}
	// A relist reports an object at its current revision as ADDED or MODIFIED whatever the
	// reference called it, so revisions are compared, not types.
	seen := map[string]bool{}
	for _, c := range wantChanges {
		seen[fmt.Sprintf("%s@%d", c.name, c.rv)] = true
	}
	lastRV := map[string]uint64{}
	for _, c := range gotChanges {
		if c.typ == watch.Deleted && c.rv == 0 {
			continue // a deletion a relist found: its revision is unknown
		}
		if c.rv <= lastRV[c.name] {
			t.Errorf("%s: %s repeated or out of order (after @%d)", who, c, lastRV[c.name])
		}
		lastRV[c.name] = c.rv
		if !seen[fmt.Sprintf("%s@%d", c.name, c.rv)] {
			t.Errorf("%s: %s is not a change the reference saw", who, c)
		}
	}
	if relists == 0 && fmt.Sprint(gotChanges) != fmt.Sprint(wantChanges) {
		t.Errorf("%s saw\n  %v\nthe reference\n  %v", who, gotChanges, wantChanges)
	}
	return len(gotChanges)
}

// waitFor waits until every history holds name at rv or later.
func waitFor(t *testing.T, timeout time.Duration, name string, rv uint64, hs ...*history) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		all := true
		for _, h := range hs {
			all = all && h.has(name, rv)
		}
		if all {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("not every watcher reached %s@%d within %s", name, rv, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listRV is the current resourceVersion of the apps.cozy.io Bucket list in ns.
func listRV(t *testing.T, ctx context.Context, ns string) string {
	t.Helper()
	list, err := cp.Dynamic.Resource(bucketsGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.GetResourceVersion()
}

// informer runs a client-go informer on the namespace's Buckets and returns its store as a
// history-like view: name → resourceVersion.
func informer(ctx context.Context, client dynamic.Interface, ns string) func() map[string]uint64 {
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(client, 0, ns, nil)
	inf := factory.ForResource(bucketsGVR).Informer()
	factory.Start(ctx.Done())
	return func() map[string]uint64 {
		out := map[string]uint64{}
		for _, obj := range inf.GetStore().List() {
			u := obj.(*unstructured.Unstructured)
			out[u.GetName()] = rvOf(u)
		}
		return out
	}
}

// informerAgrees waits until the informer's store equals the reference's final state.
func informerAgrees(t *testing.T, timeout time.Duration, store func() map[string]uint64, ref *history) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, want, _, _ := ref.snapshot()
		got := store()
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("the informer holds %v, the reference %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// servedByAll waits until ten reads in a row succeed through the aggregator, which sends them to
// the servers behind the Service in turn: every one of them serves.
func servedByAll(t *testing.T, ctx context.Context, ns string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for ok := 0; ok < 10; {
		if _, err := cp.Dynamic.Resource(bucketsGVR).Namespace(ns).List(ctx, metav1.ListOptions{}); err != nil {
			ok = 0
			if time.Now().After(deadline) {
				t.Fatalf("not every server behind the Service serves: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		ok++
	}
}

// faultRun is what every fault test starts from: a fresh tenant namespace that every server
// behind the Service serves, its current resourceVersion, the reference watch from there, and a
// writer through apps.cozy.io.
type faultRun struct {
	ctx    context.Context
	ns, rv string
	ref    *history
	w      *writes
}

func newFaultRun(t *testing.T, timeout time.Duration) *faultRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	r := &faultRun{ctx: ctx, ns: newTenant(t)}
	servedByAll(t, ctx, r.ns)
	r.rv = listRV(t, ctx, r.ns)
	r.ref = reference(t, ctx, cp.Dynamic, r.ns, r.rv)
	r.w = &writes{t: t, client: cp.Dynamic.Resource(bucketsGVR).Namespace(r.ns)}
	return r
}

// watchers starts n watchers through client from the run's resourceVersion (see watcher).
func (r *faultRun) watchers(client dynamic.Interface, n int, gate ...<-chan struct{}) []*history {
	out := make([]*history, n)
	for i := range out {
		out[i] = watcher(r.ctx, client, r.ns, r.rv, gate...)
	}
	return out
}

// agreeAll checks every watcher against the reference (see agree) and counts the changes
// compared and the watchers that resumed and that listed again.
func agreeAll(t *testing.T, watchers []*history, ref *history) (events, resumed, relisted int) {
	t.Helper()
	for i, h := range watchers {
		events += agree(t, fmt.Sprintf("watcher %d", i), h, ref)
		_, _, relists, resumes := h.snapshot()
		if resumes > 0 {
			resumed++
		}
		if relists > 0 {
			relisted++
		}
	}
	return events, resumed, relisted
}
