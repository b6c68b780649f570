package releasecache

import (
	"fmt"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// ListAt returns the objects of a kind in a namespace ("" for all) as they were at resourceVersion
// rv, as kube-apiserver serves every page of a paged list and every resourceVersionMatch=Exact
// list at one revision. The state is rebuilt from the current objects by undoing the logged
// events newer than rv, newest first; rv must not be newer than the cache (callers wait for it
// first). It fails with 410 Expired when the log no longer reaches back to rv. Callers must copy
// objects before changing them.
func (c *Cache) ListAt(kind, namespace string, rv uint64) ([]runtime.Object, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if rv > c.rv {
		return nil, fmt.Errorf("resourceVersion %d is newer than the cache (%d)", rv, c.rv)
	}
	if rv < c.log.horizon {
		return nil, apierrors.NewResourceExpired(fmt.Sprintf("the state at resourceVersion %s is no longer available (the oldest is %s): start a new list",
			strconv.FormatUint(rv, 10), strconv.FormatUint(c.log.horizon, 10)))
	}
	state := map[string]runtime.Object{}
	collect := func(ns string, byName map[string]runtime.Object) {
		for name, obj := range byName {
			state[ns+"/"+name] = obj
		}
	}
	if namespace != "" {
		collect(namespace, c.objects[kind][namespace])
	} else {
		for ns, byName := range c.objects[kind] {
			collect(ns, byName)
		}
	}
	for i := c.log.size - 1; i >= 0; i-- {
		e := c.log.events[(c.log.start+i)%len(c.log.events)]
		if e.RV <= rv {
			break
		}
		if e.Kind != kind {
			continue
		}
		m, err := meta.Accessor(e.Object)
		if err != nil || (namespace != "" && m.GetNamespace() != namespace) {
			continue
		}
		key := m.GetNamespace() + "/" + m.GetName()
		if e.Prev == nil {
			delete(state, key)
		} else {
			state[key] = e.Prev
		}
	}
	out := make([]runtime.Object, 0, len(state))
	for _, obj := range state {
		out = append(out, obj)
	}
	return out, nil
}
