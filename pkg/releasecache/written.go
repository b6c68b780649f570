package releasecache

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// writtenObject is an object this server wrote, as kube-apiserver answered the write, that the
// upstream watch has not delivered yet.
type writtenObject struct {
	obj runtime.Object
	rv  uint64
}

func writtenKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// RecordWrite converts a HelmRelease as kube-apiserver answered this server's write of it and
// returns the object, for the write's response. Until the upstream watch delivers that revision,
// the conversion also answers GetAtLeast for it: a consistent read that kube-apiserver confirms is
// of that revision is then served at once, so neither the write nor the read after it waits for
// the watch (read-your-writes). Lists and watches are not affected: they follow the watch alone.
// ok is false for a release no kind converts.
func (c *Cache) RecordWrite(hr *unstructured.Unstructured) (obj runtime.Object, ok bool) {
	kind, obj, ok := c.convert(hr)
	if !ok {
		return nil, false
	}
	rv := resourceVersionOf(obj)
	ref := refOf(kind, obj)
	c.mu.Lock()
	defer c.mu.Unlock()
	if rv > c.rv {
		key := writtenKey(kind, ref.namespace, ref.name)
		if prev, found := c.written[key]; !found || prev.rv < rv {
			c.written[key] = writtenObject{obj: obj, rv: rv}
		}
	}
	return obj.DeepCopyObject(), true
}

// GetAtLeast returns a copy of the object if the cache holds it at revision rv or newer, from the
// upstream watch or from one of this server's writes the watch has not delivered yet.
func (c *Cache) GetAtLeast(kind, namespace, name string, rv uint64) (runtime.Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if obj, ok := c.objects[kind][namespace][name]; ok && resourceVersionOf(obj) >= rv {
		return obj.DeepCopyObject(), true
	}
	if w, ok := c.written[writtenKey(kind, namespace, name)]; ok && w.rv >= rv {
		return w.obj.DeepCopyObject(), true
	}
	return nil, false
}

// forgetWrittenLocked drops the writes the upstream watch has delivered (or gone past); the caller
// holds the write lock.
func (c *Cache) forgetWrittenLocked() {
	for key, w := range c.written {
		if w.rv <= c.rv {
			delete(c.written, key)
		}
	}
}
