package releasecache

import (
	"bytes"
	"io"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// sharedObject is one watch event's object as every watcher receives it. It implements
// runtime.CacheableObject, so the watch handlers serialize it once per encoding instead of once per
// watcher (kube-apiserver's watch cache does the same with a type it does not export). The wrapped
// object is never mutated: encoders get a deep copy.
type sharedObject struct {
	object runtime.Object

	mu      sync.Mutex
	encoded map[runtime.Identifier]*encoding
}

type encoding struct {
	once sync.Once
	raw  []byte
	err  error
}

var _ runtime.CacheableObject = (*sharedObject)(nil)

func share(obj runtime.Object) *sharedObject {
	return &sharedObject{object: obj, encoded: map[runtime.Identifier]*encoding{}}
}

// CacheEncode writes the object as encode would, encoding it only the first time for each id.
func (s *sharedObject) CacheEncode(id runtime.Identifier, encode func(runtime.Object, io.Writer) error, w io.Writer) error {
	s.mu.Lock()
	e, ok := s.encoded[id]
	if !ok {
		e = &encoding{}
		s.encoded[id] = e
	}
	s.mu.Unlock()
	e.once.Do(func() {
		var buf bytes.Buffer
		e.err = encode(s.GetObject(), &buf)
		e.raw = buf.Bytes()
	})
	if e.err != nil {
		return e.err
	}
	_, err := w.Write(e.raw)
	return err
}

// GetObject returns a copy the caller owns.
func (s *sharedObject) GetObject() runtime.Object { return s.object.DeepCopyObject() }

// GetObjectKind reports the wrapped object's kind; callers must not change it.
func (s *sharedObject) GetObjectKind() schema.ObjectKind { return s.object.GetObjectKind() }

// DeepCopyObject returns a copy of the wrapped object.
func (s *sharedObject) DeepCopyObject() runtime.Object { return s.object.DeepCopyObject() }

// GetObjectMeta gives read access to the wrapped object's metadata (meta.Accessor works on the
// wrapper); callers must not change it.
func (s *sharedObject) GetObjectMeta() metav1.Object {
	m, err := meta.Accessor(s.object)
	if err != nil {
		return &metav1.ObjectMeta{}
	}
	return m
}
