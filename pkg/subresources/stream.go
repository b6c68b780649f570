package subresources

import (
	"bytes"
	"context"
	"io"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// stream is a response written as is (the kubeconfig file), as pods/log streams a log.
type stream struct {
	data        []byte
	contentType string
}

var _ runtime.Object = &stream{}

func (s *stream) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

func (s *stream) DeepCopyObject() runtime.Object {
	return &stream{data: append([]byte(nil), s.data...), contentType: s.contentType}
}

// InputStream implements rest.ResourceStreamer.
func (s *stream) InputStream(context.Context, string, string) (io.ReadCloser, bool, string, error) {
	return io.NopCloser(bytes.NewReader(s.data)), false, s.contentType, nil
}
