package releasecache

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// maxPending bounds the events queued for one slow client. A watcher that falls further behind is
// closed with an ERROR event (429, so clients back off and resume rather than relist) while the
// event log still holds what comes after the last event it received: the bound is at most half
// the log (see pendingLimit).
const maxPending = 100_000

// WatchOptions selects what a watch delivers.
type WatchOptions struct {
	Kind string
	// Namespace limits the watch to one namespace; empty watches all.
	Namespace string
	// Matches reports whether an object is in the watched set (label and field selectors).
	Matches func(obj runtime.Object) bool
	// NewObject returns an empty object of the kind, used for bookmarks.
	NewObject func() runtime.Object
	// InitialEvents first sends the current state as ADDED events; otherwise the watch replays
	// every event after ResourceVersion.
	InitialEvents bool
	// InitialEventsEndBookmark closes the initial events with the bookmark that WatchList clients
	// (sendInitialEvents=true) wait for.
	InitialEventsEndBookmark bool
	// ResourceVersion is where a watch without InitialEvents resumes.
	ResourceVersion uint64
	// Bookmarks asks for periodic bookmarks.
	Bookmarks bool
	// Scope, for a watch across namespaces, limits it to the namespaces the scope decides are
	// visible, asked again every ScopeRefresh (see NamespaceScope).
	Scope        NamespaceScope
	ScopeRefresh time.Duration
}

// Watch starts a watch over one kind. When opts.ResourceVersion is older than the events the cache
// still holds, the watch delivers a single ERROR event with 410 Gone, as kube-apiserver does for a
// compacted revision; when it is newer than the cache, the watch waits for what comes after it.
func (c *Cache) Watch(opts WatchOptions) (watch.Interface, error) {
	w := &watcher{
		cache:        c,
		opts:         opts,
		pendingLimit: max(1, min(maxPending, len(c.log.events)/2)),
		lastBookmark: time.Now(),
		wake:         make(chan struct{}, 1),
		result:       make(chan watch.Event),
		done:         make(chan struct{}),
	}
	if opts.Scope != nil {
		// Decide the namespaces known now before taking the lock for good: deciding may block.
		c.mu.RLock()
		namespaces := c.scopeNamespacesLocked(opts)
		c.mu.RUnlock()
		w.scope = newScopedWatch(opts.Scope, opts.ScopeRefresh, opts.Scope.Decide(namespaces))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if opts.InitialEvents {
		for ns, byName := range c.objects[opts.Kind] {
			if (opts.Namespace != "" && ns != opts.Namespace) || (w.scope != nil && !w.scope.visibleLocked(ns)) {
				continue
			}
			for _, obj := range byName {
				if opts.Matches(obj) {
					w.queue = append(w.queue, watch.Event{Type: watch.Added, Object: obj.DeepCopyObject()})
				}
			}
		}
		if opts.InitialEventsEndBookmark {
			bookmark := w.bookmark(c.rv)
			m, _ := meta.Accessor(bookmark)
			m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
			w.queue = append(w.queue, watch.Event{Type: watch.Bookmark, Object: bookmark})
		}
	} else {
		events, ok := c.log.since(opts.ResourceVersion)
		if !ok {
			// As kube-apiserver's watch cache: the watch is established and its only event says
			// the resourceVersion is gone, so clients handle it as any expired watch.
			message := "too old resource version: " + strconv.FormatUint(opts.ResourceVersion, 10) + " (" + strconv.FormatUint(c.log.horizon, 10) + ")"
			if opts.ResourceVersion >= c.log.horizon {
				message = "resource version " + strconv.FormatUint(opts.ResourceVersion, 10) +
					" is shared by several changes a relist found and does not say where to resume: list again"
			}
			return errorWatch(apierrors.NewResourceExpired(message).Status()), nil
		}
		for _, e := range events {
			if out, ok := w.translate(e, nil); ok {
				w.queue = append(w.queue, out)
			}
		}
	}
	c.watchers[w] = struct{}{}
	go w.run()
	if w.scope != nil {
		go w.runScope()
	}
	w.signal()
	return w, nil
}

// publishLocked logs an event and queues it for every interested watcher, all sharing one copy of
// the object that is serialized once.
func (c *Cache) publishLocked(e Event) {
	c.log.add(e)
	var shared *sharedObject
	for w := range c.watchers {
		if shared == nil {
			shared = share(e.Object)
		}
		if out, ok := w.translate(e, shared); ok {
			w.push(out)
		}
	}
}

// bookmarkLocked sends a bookmark at the cache's resourceVersion to every watcher that asked for
// bookmarks and has not had one for an interval, so idle clients can resume without a relist.
func (c *Cache) bookmarkLocked() {
	now := time.Now()
	for w := range c.watchers {
		if w.opts.Bookmarks && now.Sub(w.lastBookmark) >= c.bookmarkInterval {
			w.lastBookmark = now
			w.push(watch.Event{Type: watch.Bookmark, Object: w.bookmark(c.rv)})
		}
	}
}

// watcher is one client watch: a queue filled under the cache lock and drained by its own
// goroutine, so a slow client never blocks the cache.
type watcher struct {
	cache        *Cache
	opts         WatchOptions
	lastBookmark time.Time
	pendingLimit int
	// scope, when set, limits the watch to the namespaces its user may read.
	scope *scopedWatch

	mu       sync.Mutex
	queue    []watch.Event
	overflow bool
	wake     chan struct{}

	result   chan watch.Event
	done     chan struct{}
	stopOnce sync.Once
}

// translate turns a cache event into what this watcher sees, as kube-apiserver's cacher does: an
// object entering the selected set is ADDED, one leaving it is DELETED. shared, when given, is the
// event's object prepared for all watchers.
func (w *watcher) translate(e Event, shared *sharedObject) (watch.Event, bool) {
	current := func() runtime.Object {
		if shared != nil {
			return shared
		}
		return e.Object.DeepCopyObject()
	}
	if e.Kind != w.opts.Kind || e.RV <= w.opts.ResourceVersion {
		// A watch from a resourceVersion the cache has not reached yet starts after it.
		return watch.Event{}, false
	}
	in := func(obj runtime.Object) bool {
		if obj == nil {
			return false
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return false
		}
		return (w.opts.Namespace == "" || m.GetNamespace() == w.opts.Namespace) && w.inScopeLocked(obj) && w.opts.Matches(obj)
	}
	switch e.Type {
	case watch.Deleted:
		if in(e.Prev) {
			return watch.Event{Type: watch.Deleted, Object: current()}, true
		}
	default:
		was, is := in(e.Prev), in(e.Object)
		switch {
		case was && is:
			return watch.Event{Type: watch.Modified, Object: current()}, true
		case is:
			return watch.Event{Type: watch.Added, Object: current()}, true
		case was:
			last := e.Prev.DeepCopyObject()
			setResourceVersion(last, e.RV)
			return watch.Event{Type: watch.Deleted, Object: last}, true
		}
	}
	return watch.Event{}, false
}

func (w *watcher) bookmark(rv uint64) runtime.Object {
	obj := w.opts.NewObject()
	setResourceVersion(obj, rv)
	return obj
}

// push queues an event; a watcher too far behind is cut off after what it already has.
func (w *watcher) push(e watch.Event) {
	w.mu.Lock()
	if len(w.queue) >= w.pendingLimit {
		w.overflow = true
		delete(w.cache.watchers, w)
	} else {
		w.queue = append(w.queue, e)
	}
	w.mu.Unlock()
	w.signal()
}

func (w *watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) run() {
	defer close(w.result)
	for {
		select {
		case <-w.wake:
		case <-w.done:
			return
		}
		w.mu.Lock()
		batch, overflow := w.queue, w.overflow
		w.queue = nil
		w.mu.Unlock()
		for _, e := range batch {
			select {
			case w.result <- e:
			case <-w.done:
				return
			}
		}
		if overflow {
			// Say why the stream ends: the client resumes from the last event it received.
			status := apierrors.NewTooManyRequests(fmt.Sprintf("the watch fell %d events behind and was closed; watch again from the last resourceVersion received", w.pendingLimit), 1).Status()
			select {
			case w.result <- watch.Event{Type: watch.Error, Object: &status}:
			case <-w.done:
			}
			return
		}
	}
}

// errorWatch is a watch that delivers one ERROR event and ends.
func errorWatch(status metav1.Status) watch.Interface {
	events := make(chan watch.Event, 1)
	events <- watch.Event{Type: watch.Error, Object: &status}
	close(events)
	return watch.NewProxyWatcher(events)
}

// Stop ends the watch and releases its resources.
func (w *watcher) Stop() {
	w.cache.mu.Lock()
	delete(w.cache.watchers, w)
	w.cache.mu.Unlock()
	w.stopOnce.Do(func() { close(w.done) })
}

// ResultChan delivers the watch's events; it is closed when the watch ends.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

func refOf(kind string, obj runtime.Object) objectRef {
	m, err := meta.Accessor(obj)
	if err != nil {
		return objectRef{kind: kind}
	}
	return objectRef{kind: kind, namespace: m.GetNamespace(), name: m.GetName()}
}

func setResourceVersion(obj runtime.Object, rv uint64) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatUint(rv, 10))
	}
}
