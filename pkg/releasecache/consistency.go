package releasecache

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
)

// Listed is one object as an upstream list reported it: where it is and its revision.
type Listed struct {
	Namespace, Name string
	RV              uint64
}

// WaitCovers blocks until the cache has caught up with an upstream list of one kind taken at
// listRV: it holds every listed object at its listed revision or newer, and no object the list
// lacks unless that object changed after listRV. Once it returns, serving the kind from the cache
// reflects every write committed before the list, whichever replica made it.
//
// The cache's own resourceVersion cannot serve as the barrier: it advances only on events for
// this server's HelmReleases and on upstream bookmarks, so it may stay behind kube-apiserver's
// revision for minutes while the cache is in fact current.
func (c *Cache) WaitCovers(ctx context.Context, kind, namespace string, listed []Listed, listRV uint64) error {
	type key struct{ namespace, name string }
	want := make(map[key]uint64, len(listed))
	for _, l := range listed {
		want[key{l.Namespace, l.Name}] = l.RV
	}
	return c.waitFor(ctx, func() bool {
		if c.rv >= listRV {
			return true
		}
		for k, rv := range want {
			// Missing or older is fine once the cache has processed the listed revision: the
			// release did not convert (it is logged and ignored) or changed again since.
			obj, ok := c.objects[kind][k.namespace][k.name]
			if (!ok || resourceVersionOf(obj) < rv) && c.rv < rv {
				return false
			}
		}
		stale := func(ns string, byName map[string]runtime.Object) bool {
			for name, obj := range byName {
				if _, ok := want[key{ns, name}]; !ok && resourceVersionOf(obj) <= listRV {
					return true
				}
			}
			return false
		}
		if namespace != "" {
			return !stale(namespace, c.objects[kind][namespace])
		}
		for ns, byName := range c.objects[kind] {
			if stale(ns, byName) {
				return false
			}
		}
		return true
	})
}
