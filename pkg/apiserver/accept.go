package apiserver

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

// withoutProtobufObjects removes protobuf from what a request to apps.cozy.io accepts, unless it
// asks for a meta.k8s.io transform (as=PartialObjectMetadata, as=Table), which protobuf can
// encode. The kinds have no protobuf encoding, as custom resources have none: kube-apiserver then
// answers protobuf-preferring clients in JSON (its CRD handler restricts untransformed responses to
// JSON, YAML and CBOR), and so must this server. Otherwise such a client — kube-controller-manager's
// namespace controller deleting a namespace's objects with its metadata client — gets a 500 for
// every deletecollection and the namespace never goes away. Request bodies in protobuf (the
// DeleteOptions of that deletecollection) are still decoded.
func withoutProtobufObjects(next http.Handler) http.Handler {
	prefix := "/apis/" + appsv1alpha1.GroupName + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if accept := req.Header.Get("Accept"); strings.HasPrefix(req.URL.Path, prefix) && strings.Contains(accept, runtime.ContentTypeProtobuf) {
			req = req.Clone(req.Context())
			req.Header.Set("Accept", acceptWithoutProtobufObjects(accept))
		}
		next.ServeHTTP(w, req)
	})
}

// acceptWithoutProtobufObjects drops the protobuf media ranges of an Accept header that ask for no
// transform; an Accept left empty becomes JSON.
func acceptWithoutProtobufObjects(accept string) string {
	var kept []string
	for _, mediaRange := range strings.Split(accept, ",") {
		mediaRange = strings.TrimSpace(mediaRange)
		if strings.HasPrefix(mediaRange, runtime.ContentTypeProtobuf) && !strings.Contains(mediaRange, "as=") {
			continue
		}
		if mediaRange != "" {
			kept = append(kept, mediaRange)
		}
	}
	if len(kept) == 0 {
		return runtime.ContentTypeJSON
	}
	return strings.Join(kept, ",")
}
