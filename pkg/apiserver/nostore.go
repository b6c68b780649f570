package apiserver

import (
	"net/http"
	"strings"

	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/cozystack/apps-apiserver/pkg/subresources"
)

// withNoStore marks responses of the credentials subresources as not to be stored by any cache
// (Cache-Control: no-store), as kube-apiserver does for every response, and says so explicitly
// for these.
func withNoStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		for _, sub := range subresources.Credentials {
			if strings.HasSuffix(req.URL.Path, "/"+sub) {
				w.Header().Set("Cache-Control", "no-store")
				w.Header().Set("Pragma", "no-cache")
				break
			}
		}
		next.ServeHTTP(w, req)
	})
}

// buildHandlerChain is the generic server's chain with withNoStore and withoutProtobufObjects in
// front.
func buildHandlerChain(apiHandler http.Handler, c *genericapiserver.Config) http.Handler {
	return withNoStore(withoutProtobufObjects(genericapiserver.DefaultBuildHandlerChain(apiHandler, c)))
}
