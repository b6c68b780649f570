package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/endpoints/request"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

// patchMainResource sends a JSON merge patch of an object through the kinds' own handlers, in
// this process, as part of the request being served: the requesting user, its audit event and
// its warnings. Mutating and validating admission (an UPDATE of the main resource, as webhooks
// and admission policies expect), the field manager (managedFields for the client's manager),
// dry run and the optimistic lock are exactly a PATCH's. Authorization is not asked again: the
// request was authorized for the subresource, which is what a role grants (virtualmachines/start
// without patch on virtualmachines). It is how virtualmachines/start and stop change
// spec.runStrategy.
func (r *kindRouter) patchMainResource(ctx context.Context, outer *http.Request, resource, namespace, name string, patch []byte, dryRun bool) (runtime.Object, error) {
	gv := appsv1alpha1.SchemeGroupVersion
	target := &url.URL{Path: path.Join("/apis", gv.Group, gv.Version, "namespaces", namespace, resource, name)}
	if dryRun {
		target.RawQuery = url.Values{"dryRun": {metav1.DryRunAll}}.Encode()
	}
	info := &request.RequestInfo{
		IsResourceRequest: true, Path: target.Path, Verb: "patch", APIPrefix: "apis", APIGroup: gv.Group, APIVersion: gv.Version,
		Namespace: namespace, Resource: resource, Name: name, Parts: []string{resource, name},
	}
	inner := outer.Clone(request.WithRequestInfo(ctx, info))
	inner.Method, inner.URL, inner.RequestURI = http.MethodPatch, target, target.RequestURI()
	inner.Header.Del("Content-Length")
	inner.Header.Del("Content-Encoding")
	inner.Header.Set("Content-Type", "application/merge-patch+json")
	inner.Header.Set("Accept", "application/json")
	inner.Body, inner.ContentLength = nopCloser{bytes.NewReader(patch)}, int64(len(patch))
	response := &recordedResponse{header: http.Header{}}
	r.ServeHTTP(response, inner)

	obj, _, err := Codecs.UniversalDecoder(gv).Decode(response.body.Bytes(), nil, nil)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("decoding the answer to the patch of %s %s (%d): %w", resource, name, response.status, err))
	}
	if status, ok := obj.(*metav1.Status); ok && status.Status != metav1.StatusSuccess {
		return nil, &apierrors.StatusError{ErrStatus: *status}
	}
	return obj, nil
}

// recordedResponse keeps what a handler answers.
type recordedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recordedResponse) Header() http.Header { return w.header }
func (w *recordedResponse) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
func (w *recordedResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
