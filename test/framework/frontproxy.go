package framework

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// ServerURL is the apps.cozy.io server's own address, bypassing the aggregator.
func (cp *ControlPlane) ServerURL() string {
	return fmt.Sprintf("https://127.0.0.1:%d", cp.Server.port)
}

// FrontProxyClient returns a client that calls the apps.cozy.io server directly the way the
// aggregator does: authenticated by the front-proxy client certificate, asserting the user and
// groups in request headers. With user empty it presents no certificate (an anonymous caller).
func (cp *ControlPlane) FrontProxyClient(user string, groups ...string) (*http.Client, error) {
	caBundle, err := os.ReadFile(filepath.Join(cp.Server.certDir(), "apiserver.crt"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caBundle) {
		return nil, fmt.Errorf("no certificates in the serving bundle")
	}
	tlsConfig := &tls.Config{RootCAs: roots, ServerName: ServiceName + "." + ServiceNamespace + ".svc"}
	if user != "" {
		opts := cp.kubeAPIServer.ServerOpts
		cert, err := tls.LoadX509KeyPair(opts.ProxyClientCertFile, opts.ProxyClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the front-proxy client certificate: %w", err)
		}
		tlsConfig.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &identityHeaders{user: user, groups: groups, next: &http.Transport{TLSClientConfig: tlsConfig}},
	}, nil
}

type identityHeaders struct {
	user   string
	groups []string
	next   http.RoundTripper
}

func (h *identityHeaders) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if h.user != "" {
		req.Header.Set("X-Remote-User", h.user)
		for _, g := range h.groups {
			req.Header.Add("X-Remote-Group", g)
		}
	}
	return h.next.RoundTrip(req)
}
