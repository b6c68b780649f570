package apiserver

import (
	"net/http"
	"strings"
)

// serveOpenAPIv3WithAnyHash answers a request for this group's OpenAPI v3 that names a hash the
// document no longer has with the current document, as if no hash had been given (so it is not
// cached as immutable). kube-openapi answers such a request with a redirect to the current hash,
// which kube-apiserver's aggregator turns into a 502 (it refuses redirects from aggregated
// servers), and the aggregator re-reads an aggregated server's OpenAPI v3 hashes only every
// minute: without this, `kubectl explain` fails for up to a minute after every change of kinds.
// It reports whether it handled the request.
func serveOpenAPIv3WithAnyHash(next http.Handler, w http.ResponseWriter, req *http.Request) bool {
	if req.Method != http.MethodGet || req.URL.Path != "/openapi/v3/"+v3Path || !req.URL.Query().Has("hash") {
		return false
	}
	catcher := &redirectCatcher{ResponseWriter: w, header: http.Header{}}
	next.ServeHTTP(catcher, req)
	if !catcher.redirected {
		return true
	}
	query := req.URL.Query()
	query.Del("hash")
	current := req.Clone(req.Context())
	current.URL.RawQuery = query.Encode()
	current.RequestURI = current.URL.RequestURI()
	next.ServeHTTP(w, current)
	return true
}

// redirectCatcher passes a response through unless it is a redirect, which it swallows.
type redirectCatcher struct {
	http.ResponseWriter
	header      http.Header
	redirected  bool
	wroteHeader bool
}

func (c *redirectCatcher) Header() http.Header { return c.header }

func (c *redirectCatcher) WriteHeader(code int) {
	if c.wroteHeader {
		return
	}
	c.wroteHeader = true
	if code >= 300 && code < 400 && strings.Contains(c.header.Get("Location"), "hash=") {
		c.redirected = true
		return
	}
	for k, v := range c.header {
		c.ResponseWriter.Header()[k] = v
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *redirectCatcher) Write(b []byte) (int, error) {
	if !c.wroteHeader {
		c.WriteHeader(http.StatusOK)
	}
	if c.redirected {
		return len(b), nil
	}
	return c.ResponseWriter.Write(b)
}
