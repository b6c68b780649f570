package apiserver

import (
	"bytes"
	"io"
	"mime"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/request"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/validation"
)

// maxCheckedPatchBytes is the largest patch body checked before the handler: the generic
// server's own request limit (3 MiB), beyond which the handler answers 413 itself.
const maxCheckedPatchBytes = 3 << 20

// refuseTooDeepMergePatch answers a merge patch whose spec nests deeper than the kind's limits
// allow with the 422 validation would give the patched object, before the patch library spends
// seconds of CPU applying it (validation.Schema.CheckMergePatchDepth). It reports whether it
// answered; otherwise the request goes on with its body intact.
func refuseTooDeepMergePatch(w http.ResponseWriter, req *http.Request, info *request.RequestInfo, kind string, s *validation.Schema) bool {
	if s == nil || info.Verb != "patch" || info.Subresource != "" {
		return false
	}
	if mediaType, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mediaType != "application/merge-patch+json" {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxCheckedPatchBytes+1))
	// Whatever was read goes back in front of the rest, for the handler to read as sent.
	req.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), req.Body), req.Body}
	if err != nil || len(body) > maxCheckedPatchBytes {
		return false
	}
	errs := s.CheckMergePatchDepth(body)
	if len(errs) == 0 {
		return false
	}
	gv := appsv1alpha1.SchemeGroupVersion
	responsewriters.ErrorNegotiated(apierrors.NewInvalid(schema.GroupKind{Group: gv.Group, Kind: kind}, info.Name, errs), Codecs, gv, w, req)
	return true
}
