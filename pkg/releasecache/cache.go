// Package releasecache keeps the server's read model: every HelmRelease this server owns, already
// converted to the object it stores, fed by one upstream watch for all kinds. It serves gets, lists
// and watches from memory, and serves consistent reads of its own writes before the watch delivers
// them (read-your-writes).
//
// It is written here rather than taken from k8s.io/apiserver's Cacher because the Cacher needs a
// storage.Interface per resource (one upstream watch each), while this server multiplexes all
// kinds over one HelmRelease watch and converts each change once, not once per reader.
package releasecache

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Converter turns a HelmRelease into the object it stores. ok is false for HelmReleases that do
// not belong to any kind; those are ignored.
type Converter func(hr *unstructured.Unstructured) (kind string, obj runtime.Object, ok bool)

// Cache is the converted, in-memory view of the server's HelmReleases. Cached objects are never
// mutated after insertion; readers that hand them to code which may mutate must copy them.
type Cache struct {
	convert Converter

	mu sync.RWMutex
	// objects is kind → namespace → object name → object.
	objects map[string]map[string]map[string]runtime.Object
	// releases maps a HelmRelease key ("namespace/name") to where its object lives in objects.
	releases map[string]objectRef
	// rv is the highest resourceVersion the upstream watch has delivered (events or bookmarks).
	rv     uint64
	synced bool
	log    eventLog
	// written holds this server's writes the upstream watch has not delivered yet (written.go),
	// by kind/namespace/name.
	written map[string]writtenObject
	// watchers receive every event after they registered.
	watchers map[*watcher]struct{}
	// changed is closed and replaced whenever rv or the contents move, waking waiters.
	changed chan struct{}
	// bookmarkInterval is how often watchers that asked for bookmarks get one.
	bookmarkInterval time.Duration
	// kindLabel is the release label whose value names a release's kind (SetKindLabel).
	kindLabel string
	// reconvertKinds are the kind label values Reconvert asked for that no round has taken yet,
	// each with the converterGeneration of its latest request; reconvertAsked wakes the rounds
	// (reconvert.go).
	reconvertKinds map[string]uint64
	reconvertAsked chan struct{}
	// converterGeneration counts Reconvert's calls: a change converted before one is converted
	// again.
	converterGeneration atomic.Uint64
	// touched holds, while a round runs, the latest revision the watch delivered of each release;
	// relistedDuringRound says a full relist ran meanwhile.
	touched             map[string]uint64
	relistedDuringRound bool
}

// objectRef says where a release's object lives and how large the release was (approximateSize),
// which is what its version costs the event log once the cache has moved past it.
type objectRef struct {
	kind, namespace, name string
	size                  int64
}

// Event is one change to a cached object, in upstream order.
type Event struct {
	Type watch.EventType
	Kind string
	// Object is the object after the change; for deletions, its last state.
	Object runtime.Object
	// Prev is the object before the change; nil for additions.
	Prev runtime.Object
	RV   uint64
	// retained estimates the bytes of object versions that only this event keeps alive once
	// logged: the previous version of a change, both versions of a deletion (its last state is a
	// copy); an addition's object is the cached one.
	retained int64
}

// New returns an empty cache that keeps the last logSize events for watches that resume from a
// resourceVersion, and sends bookmarks every bookmarkInterval to watchers that ask for them. See
// LimitEventLogBytes for the log's other bound.
func New(convert Converter, logSize int, bookmarkInterval time.Duration) *Cache {
	if bookmarkInterval <= 0 {
		bookmarkInterval = time.Minute
	}
	return &Cache{
		convert:          convert,
		objects:          map[string]map[string]map[string]runtime.Object{},
		releases:         map[string]objectRef{},
		written:          map[string]writtenObject{},
		log:              newEventLog(logSize),
		watchers:         map[*watcher]struct{}{},
		changed:          make(chan struct{}),
		bookmarkInterval: bookmarkInterval,
		reconvertKinds:   map[string]uint64{},
		reconvertAsked:   make(chan struct{}, 1),
	}
}

// LimitEventLogBytes bounds the bytes of old object versions the event log keeps for resuming
// watches (estimated from the releases' sizes; 0 for no bound beyond the count): when it is
// exceeded, the oldest events are dropped, and watches and lists from before them get 410 Expired,
// as when the count is exceeded. Call it before Run.
func (c *Cache) LimitEventLogBytes(maxBytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log.maxBytes = maxBytes
}

// Run feeds the cache from lw until ctx ends: one reflector, hence one upstream list+watch, for
// every kind. It also sends watchers their periodic bookmarks.
func (c *Cache) Run(ctx context.Context, lw cache.ListerWatcher) {
	go func() {
		ticker := time.NewTicker(max(c.bookmarkInterval/4, 100*time.Millisecond))
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				c.mu.Lock()
				c.bookmarkLocked()
				c.mu.Unlock()
			}
		}
	}()
	go c.runReconversions(ctx, cache.ToListerWatcherWithContext(lw))
	r := cache.NewReflectorWithOptions(lw, &unstructured.Unstructured{}, (*store)(c), cache.ReflectorOptions{Name: "helmreleases"})
	r.RunWithContext(ctx)
}

// HasSynced reports whether the initial list has been loaded.
func (c *Cache) HasSynced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced
}

// ResourceVersion is the newest resourceVersion the cache reflects.
func (c *Cache) ResourceVersion() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rv
}

// Get returns the cached object; callers must copy it before changing it.
func (c *Cache) Get(kind, namespace, name string) (runtime.Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	obj, ok := c.objects[kind][namespace][name]
	return obj, ok
}

// List returns the cached objects of a kind in a namespace ("" for all) and the resourceVersion
// they reflect; callers must copy objects before changing them.
func (c *Cache) List(kind, namespace string) ([]runtime.Object, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []runtime.Object
	collect := func(byName map[string]runtime.Object) {
		for _, obj := range byName {
			out = append(out, obj)
		}
	}
	if namespace != "" {
		collect(c.objects[kind][namespace])
	} else {
		for _, byName := range c.objects[kind] {
			collect(byName)
		}
	}
	return out, c.rv
}

// waitFor blocks until cond, evaluated under the cache's read lock after every change, holds or
// ctx ends. It stays inside the package: code outside never runs under the cache's lock, and
// asks for one of the purpose-built waits below.
func (c *Cache) waitFor(ctx context.Context, cond func() bool) error {
	for {
		c.mu.RLock()
		ok, changed := cond(), c.changed
		c.mu.RUnlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// AwaitSynced blocks until the initial list has been loaded or ctx ends, so no read is served
// from an empty cache as if nothing existed.
func (c *Cache) AwaitSynced(ctx context.Context) error {
	return c.waitFor(ctx, func() bool { return c.synced })
}

// AwaitResourceVersion blocks until the cache reflects rv, so a read at a resourceVersion sees at
// least the state that resourceVersion names.
func (c *Cache) AwaitResourceVersion(ctx context.Context, rv uint64) error {
	return c.waitFor(ctx, func() bool { return c.rv >= rv })
}

// AwaitDeletion blocks until the cache shows the deletion of the object with the given uid:
// gone (nil is returned) or still held by finalizers with a deletionTimestamp (a copy of it is
// returned).
func (c *Cache) AwaitDeletion(ctx context.Context, kind, namespace, name string, uid types.UID) (runtime.Object, error) {
	var marked runtime.Object
	err := c.waitFor(ctx, func() bool {
		obj, ok := c.objects[kind][namespace][name]
		if !ok {
			return true
		}
		m, err := meta.Accessor(obj)
		if err != nil || m.GetUID() != uid {
			return true
		}
		if m.GetDeletionTimestamp() != nil {
			marked = obj.DeepCopyObject()
			return true
		}
		return false
	})
	return marked, err
}

// ParseResourceVersion reads a resourceVersion issued by kube-apiserver. They are etcd revisions;
// the server compares them to order its cache against writes and watch requests.
func ParseResourceVersion(rv string) (uint64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid resource version %q: %w", rv, err)
	}
	return n, nil
}

func resourceVersionOf(obj runtime.Object) uint64 {
	m, err := meta.Accessor(obj)
	if err != nil {
		return 0
	}
	rv, err := ParseResourceVersion(m.GetResourceVersion())
	if err != nil {
		klog.ErrorS(err, "Ignoring unparsable resourceVersion from upstream")
		return 0
	}
	return rv
}

// notifyLocked wakes every waitFor; the caller holds the write lock.
func (c *Cache) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}
