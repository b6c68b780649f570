package apiserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestStaleOpenAPIHashIsServedTheCurrentDocument: a request naming an old hash gets the current
// document (200, no immutable caching), not kube-openapi's redirect; others pass through.
func TestStaleOpenAPIHashIsServedTheCurrentDocument(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hash := r.URL.Query().Get("hash")
		switch {
		case hash == "":
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write([]byte("current"))
		case hash != "good":
			http.Redirect(w, r, r.URL.Path+"?hash=good", http.StatusMovedPermanently)
		default:
			w.Header().Set("Cache-Control", "public, immutable")
			_, _ = w.Write([]byte("current"))
		}
	})
	for _, tc := range []struct {
		url, cache string
		handled    bool
	}{
		{"/openapi/v3/" + v3Path + "?hash=old", "no-cache", true},
		{"/openapi/v3/" + v3Path + "?hash=good", "public, immutable", true},
		{"/openapi/v3/" + v3Path, "", false},
		{"/openapi/v3/apis/other/v1?hash=old", "", false},
	} {
		rec := httptest.NewRecorder()
		handled := serveOpenAPIv3WithAnyHash(inner, rec, httptest.NewRequest(http.MethodGet, tc.url, nil))
		if handled != tc.handled {
			t.Errorf("%s: handled %v, want %v", tc.url, handled, tc.handled)
			continue
		}
		if !handled {
			continue
		}
		if rec.Code != http.StatusOK || rec.Body.String() != "current" || rec.Header().Get("Cache-Control") != tc.cache || rec.Header().Get("Location") != "" {
			t.Errorf("%s: %d %q cache %q location %q", tc.url, rec.Code, rec.Body.String(), rec.Header().Get("Cache-Control"), rec.Header().Get("Location"))
		}
	}
}
