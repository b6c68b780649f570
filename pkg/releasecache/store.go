package releasecache

import (
	"fmt"
	"sort"
	"strconv"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// store is the face the Cache shows the reflector: it receives HelmReleases in upstream order and
// turns each into at most one converted object and one event.
type store Cache

var _ cache.Store = (*store)(nil)
var _ cache.ResourceVersionUpdater = (*store)(nil)

func releaseKey(hr *unstructured.Unstructured) string { return hr.GetNamespace() + "/" + hr.GetName() }

func asRelease(obj any) (*unstructured.Unstructured, error) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	hr, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("expected a HelmRelease, got %T", obj)
	}
	return hr, nil
}

// convertForCache converts a release into the object the cache keeps (compact, see compact).
func (c *Cache) convertForCache(hr *unstructured.Unstructured) (kind string, obj runtime.Object, ok bool) {
	if kind, obj, ok = c.convert(hr); ok {
		obj = compact(obj)
	}
	return kind, obj, ok
}

// Add records a new or changed HelmRelease.
func (s *store) Add(obj any) error { return s.Update(obj) }

// Update records a new or changed HelmRelease.
func (s *store) Update(obj any) error {
	hr, err := asRelease(obj)
	if err != nil {
		return err
	}
	c := (*Cache)(s)
	generation := c.converterGeneration.Load()
	kind, converted, ok := c.convertForCache(hr)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.converterGeneration.Load() != generation {
		// The converter's kinds changed while it converted (Reconvert).
		kind, converted, ok = c.convertForCache(hr)
	}
	rv := resourceVersionOf(hr)
	c.touchLocked(releaseKey(hr), rv)
	if ok {
		c.putLocked(releaseKey(hr), kind, converted, approximateSize(hr.Object), rv)
	} else {
		// A release that lost its ownership labels, or no longer converts, leaves the API.
		c.removeLocked(releaseKey(hr), rv)
	}
	c.advanceLocked(rv)
	return nil
}

// Delete records a deleted HelmRelease.
func (s *store) Delete(obj any) error {
	hr, err := asRelease(obj)
	if err != nil {
		return err
	}
	c := (*Cache)(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	rv := resourceVersionOf(hr)
	c.touchLocked(releaseKey(hr), rv)
	c.removeLocked(releaseKey(hr), rv)
	c.advanceLocked(rv)
	return nil
}

// Replace installs a full list. The first one is the initial state; later ones (after the upstream
// watch expired) are turned into the events that lead from the old state to the new one.
func (s *store) Replace(list []any, resourceVersion string) error {
	rv, err := ParseResourceVersion(resourceVersion)
	if err != nil {
		return err
	}
	c := (*Cache)(s)
	type item struct {
		kind string
		obj  runtime.Object
		size int64
	}
	var converted map[string]item
	// present is every listed release's revision.
	var present map[string]uint64
	var generation uint64
	for {
		// A later list is converted again if Reconvert changed the converter's kinds meanwhile,
		// so what it stores is converted with the kinds of when the lock is taken (kept from
		// the last check). The initial list is not (at 100,000 releases that would take as long
		// as the list): the kinds asked for since it began are left to a reconversion round,
		// which waits for it.
		generation = c.converterGeneration.Load()
		converted = make(map[string]item, len(list))
		present = make(map[string]uint64, len(list))
		for _, obj := range list {
			hr, err := asRelease(obj)
			if err != nil {
				return err
			}
			present[releaseKey(hr)] = resourceVersionOf(hr)
			if kind, o, ok := c.convertForCache(hr); ok {
				converted[releaseKey(hr)] = item{kind, o, approximateSize(hr.Object)}
			}
		}
		c.mu.Lock()
		if !c.synced || c.converterGeneration.Load() == generation {
			break
		}
		c.mu.Unlock()
	}
	defer c.mu.Unlock()
	if c.touched != nil {
		c.relistedDuringRound = true
	}
	// A relist reports what changed while no watch was open. Each change is published at the
	// revision of its object, oldest first, so clients see resourceVersions only grow and can
	// resume after any of them; deletions, whose revisions are unknown, come last at the list's.
	var changed []string
	for key, it := range converted {
		if ref, ok := c.releases[key]; ok {
			if old := c.objects[ref.kind][ref.namespace][ref.name]; old != nil && resourceVersionOf(old) == resourceVersionOf(it.obj) {
				continue
			}
		} else if c.synced && resourceVersionOf(it.obj) <= c.rv {
			// A release the watch delivered at this revision that no kind converted then: its
			// kind was defined since (see Reconvert). No watch of that kind saw it; no event.
			c.placeLocked(key, it.kind, it.obj, it.size)
			continue
		}
		changed = append(changed, key)
	}
	sort.Slice(changed, func(i, j int) bool {
		return resourceVersionOf(converted[changed[i]].obj) < resourceVersionOf(converted[changed[j]].obj)
	})
	for _, key := range changed {
		it := converted[key]
		c.putLocked(key, it.kind, it.obj, it.size, min(rv, resourceVersionOf(it.obj)))
	}
	for key := range c.releases {
		if _, ok := converted[key]; !ok {
			if ref := c.releases[key]; present[key] != 0 && present[key] == resourceVersionOf(c.objects[ref.kind][ref.namespace][ref.name]) {
				// The release did not change; no kind converts it any more (see Reconvert).
				c.dropLocked(key)
				continue
			}
			c.removeLocked(key, rv)
		}
	}
	if !c.synced {
		// Nothing before the initial list can be replayed. Every release was converted with
		// the kinds asked for before it began.
		for kind, asked := range c.reconvertKinds {
			if asked <= generation {
				delete(c.reconvertKinds, kind)
			}
		}
		c.log.reset(rv)
		c.synced = true
		klog.InfoS("HelmRelease cache synced", "objects", len(c.releases), "resourceVersion", rv)
	}
	c.advanceLocked(rv)
	return nil
}

// UpdateResourceVersion records progress reported by the upstream watch (bookmarks).
func (s *store) UpdateResourceVersion(resourceVersion string) {
	rv, err := ParseResourceVersion(resourceVersion)
	if err != nil {
		return
	}
	c := (*Cache)(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked(rv)
}

// Bookmark is UpdateResourceVersion for the bookmarks of a watch-list.
func (s *store) Bookmark(resourceVersion string) { s.UpdateResourceVersion(resourceVersion) }

// LastStoreSyncResourceVersion is the newest resourceVersion the cache reflects.
func (s *store) LastStoreSyncResourceVersion() string {
	return strconv.FormatUint((*Cache)(s).ResourceVersion(), 10)
}

// The reflector only writes to its store; the read half of cache.Store is served by Cache itself
// and these exist to satisfy the interface.

// List is unused by the reflector.
func (s *store) List() []any { return nil }

// ListKeys is unused by the reflector.
func (s *store) ListKeys() []string { return nil }

// Get is unused by the reflector.
func (s *store) Get(any) (any, bool, error) { return nil, false, nil }

// GetByKey is unused by the reflector.
func (s *store) GetByKey(string) (any, bool, error) { return nil, false, nil }

// Resync is meaningless for a plain store.
func (s *store) Resync() error { return nil }

// putLocked stores a converted object, converted from a release of the given size, and logs the
// event.
func (c *Cache) putLocked(key, kind string, obj runtime.Object, size int64, rv uint64) {
	ref := refOf(kind, obj)
	var prev runtime.Object
	var prevSize int64
	if old, ok := c.releases[key]; ok {
		if old.kind != kind || old.name != ref.name {
			c.removeLocked(key, rv)
		} else {
			prev, prevSize = c.objects[old.kind][old.namespace][old.name], old.size
		}
	}
	c.placeLocked(key, kind, obj, size)
	if prev != nil && sameButVersion(prev, obj) {
		// The release changed only where users cannot see (the server's bookkeeping, status
		// Flux keeps but the API does not project): no event, as no visible field changed.
		return
	}
	event := Event{Type: watch.Added, Kind: kind, Object: obj, Prev: prev, RV: max(rv, resourceVersionOf(obj))}
	if prev != nil {
		event.Type, event.retained = watch.Modified, prevSize
	}
	c.publishLocked(event)
}

// removeLocked drops the object stored by a HelmRelease, if any, and logs its deletion.
func (c *Cache) removeLocked(key string, rv uint64) {
	ref, ok := c.releases[key]
	if !ok {
		return
	}
	obj := c.objects[ref.kind][ref.namespace][ref.name]
	c.dropLocked(key)
	if obj == nil {
		return
	}
	last := obj.DeepCopyObject()
	setResourceVersion(last, rv)
	c.publishLocked(Event{Type: watch.Deleted, Kind: ref.kind, Object: last, Prev: obj, RV: rv, retained: 2 * ref.size})
}

// sameButVersion reports whether two versions of an object differ only in resourceVersion.
func sameButVersion(prev, obj runtime.Object) bool {
	if a, ok := prev.(*compactObject); ok {
		if b, ok := obj.(*compactObject); ok {
			return a.sameButVersion(b)
		}
	}
	a := prev.DeepCopyObject()
	setResourceVersion(a, resourceVersionOf(obj))
	return apiequality.Semantic.DeepEqual(a, obj)
}

func (c *Cache) advanceLocked(rv uint64) {
	if rv > c.rv {
		c.rv = rv
	}
	if len(c.written) > 0 {
		c.forgetWrittenLocked()
	}
	c.notifyLocked()
}
