package releasecache

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// NamespaceScope limits a watch across namespaces to those its user may read, a decision that can
// change while the watch is open (a RoleBinding added or removed).
type NamespaceScope interface {
	// Decide answers for each namespace whether the watcher may see its objects. It may block (it
	// asks an authorizer) and is never called under the cache's lock; a namespace left out of the
	// answer is not visible.
	Decide(namespaces []string) map[string]bool
}

// scopedWatch is a watcher's view of its NamespaceScope: the decisions so far, which namespaces
// met since then still await one, and the loop that asks again.
type scopedWatch struct {
	scope   NamespaceScope
	refresh time.Duration
	// visible and pending are guarded by the cache's lock: visible holds every namespace decided,
	// pending the ones an event met before any decision about them.
	visible map[string]bool
	pending map[string]struct{}
	kick    chan struct{}
}

func newScopedWatch(scope NamespaceScope, refresh time.Duration, decided map[string]bool) *scopedWatch {
	if refresh <= 0 {
		refresh = 10 * time.Second
	}
	if decided == nil {
		decided = map[string]bool{}
	}
	return &scopedWatch{scope: scope, refresh: refresh, visible: decided, pending: map[string]struct{}{}, kick: make(chan struct{}, 1)}
}

// visibleLocked reports whether the namespace is visible. A namespace not decided yet is not,
// until the refresh loop decides it and sends its objects as ADDED.
func (s *scopedWatch) visibleLocked(namespace string) bool {
	if v, ok := s.visible[namespace]; ok {
		return v
	}
	s.pending[namespace] = struct{}{}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return false
}

// scopeNamespacesLocked are the namespaces a scoped watch of kind must decide before it starts:
// those holding objects now and those of the events it will replay, so that a deletion the client
// must see is not hidden for want of a decision.
func (c *Cache) scopeNamespacesLocked(opts WatchOptions) []string {
	seen := map[string]struct{}{}
	for ns := range c.objects[opts.Kind] {
		seen[ns] = struct{}{}
	}
	if !opts.InitialEvents {
		events, _ := c.log.since(opts.ResourceVersion)
		for _, e := range events {
			if e.Kind == opts.Kind {
				seen[refOf(e.Kind, e.Object).namespace] = struct{}{}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for ns := range seen {
		out = append(out, ns)
	}
	return out
}

// runScope asks the scope again every refresh interval (all namespaces decided so far) and
// whenever events met undecided namespaces (those only), and turns every change of visibility into
// events: ADDED for the objects of a namespace that became visible, DELETED for those of one that
// no longer is, then a bookmark at the current resourceVersion for clients that take them. This is
// how a RoleBinding added or removed changes what an open watch delivers.
func (w *watcher) runScope() {
	s := w.scope
	ticker := time.NewTicker(s.refresh)
	defer ticker.Stop()
	for {
		all := false
		select {
		case <-w.done:
			return
		case <-ticker.C:
			all = true
		case <-s.kick:
		}
		c := w.cache
		c.mu.Lock()
		var namespaces []string
		for ns := range s.pending {
			namespaces = append(namespaces, ns)
		}
		if all {
			for ns := range s.visible {
				namespaces = append(namespaces, ns)
			}
		}
		c.mu.Unlock()
		if len(namespaces) == 0 {
			continue
		}
		decided := s.scope.Decide(namespaces)

		c.mu.Lock()
		changed := false
		for _, ns := range namespaces {
			now := decided[ns]
			was, known := s.visible[ns]
			delete(s.pending, ns)
			s.visible[ns] = now
			if now == (known && was) {
				continue
			}
			for _, obj := range c.objects[w.opts.Kind][ns] {
				if !w.opts.Matches(obj) {
					continue
				}
				changed = true
				if now {
					w.push(watch.Event{Type: watch.Added, Object: obj.DeepCopyObject()})
				} else {
					last := obj.DeepCopyObject()
					setResourceVersion(last, c.rv)
					w.push(watch.Event{Type: watch.Deleted, Object: last})
				}
			}
		}
		if changed && w.opts.Bookmarks {
			w.push(watch.Event{Type: watch.Bookmark, Object: w.bookmark(c.rv)})
		}
		c.mu.Unlock()
	}
}

// inScopeLocked reports whether obj's namespace is visible to the watcher.
func (w *watcher) inScopeLocked(obj runtime.Object) bool {
	if w.scope == nil {
		return true
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	return w.scope.visibleLocked(m.GetNamespace())
}
