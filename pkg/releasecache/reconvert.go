package releasecache

import "k8s.io/apimachinery/pkg/runtime"

// Reconvert makes the cache convert every release again with its converter, whose kinds changed
// (a kind was defined, changed or removed): it restarts the upstream list and watch, and the list
// is applied as a relist is, except for releases that did not change upstream: their objects are
// converted anew, added (a kind just defined) or dropped (a kind no longer served) without an
// event, as custom resources read differently after their CRD changed and appear with a new CRD
// without events. Watches of a kind that is gone are ended with EndWatches. The event log keeps
// only real changes, each at its own revision, so every other watch resumes exactly. Requests
// made while a relist runs are served by the next one. It never blocks.
func (c *Cache) Reconvert() {
	c.mu.Lock()
	c.reconvertAsked++
	c.mu.Unlock()
	select {
	case c.relist <- struct{}{}:
	default:
	}
}

// placeLocked stores a converted object without an event (see Reconvert).
func (c *Cache) placeLocked(key, kind string, obj runtime.Object, size int64) {
	ref := refOf(kind, obj)
	ref.size = size
	byNamespace := c.objects[kind]
	if byNamespace == nil {
		byNamespace = map[string]map[string]runtime.Object{}
		c.objects[kind] = byNamespace
	}
	byName := byNamespace[ref.namespace]
	if byName == nil {
		byName = map[string]runtime.Object{}
		byNamespace[ref.namespace] = byName
	}
	byName[ref.name] = obj
	c.releases[key] = ref
}

// dropLocked forgets a release's object without an event (see Reconvert).
func (c *Cache) dropLocked(key string) {
	ref, ok := c.releases[key]
	if !ok {
		return
	}
	delete(c.releases, key)
	delete(c.objects[ref.kind][ref.namespace], ref.name)
	if len(c.objects[ref.kind][ref.namespace]) == 0 {
		delete(c.objects[ref.kind], ref.namespace)
	}
}

// EndWatches closes every watch of a kind that is no longer served: its clients see the watch end
// and, listing again, that the resource is gone.
func (c *Cache) EndWatches(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.watchers {
		if w.opts.Kind == kind {
			delete(c.watchers, w)
			w.stopOnce.Do(func() { close(w.done) })
		}
	}
}
