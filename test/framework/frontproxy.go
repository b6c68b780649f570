package framework

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
)

// URL is the server's own address, bypassing the aggregator.
func (s *CozyServer) URL() string {
	return fmt.Sprintf("https://127.0.0.1:%d", s.port)
}

// ServerURL is the address of the server behind the APIService, bypassing the aggregator.
func (cp *ControlPlane) ServerURL() string { return cp.Server.URL() }

// FrontProxyClient returns a client that calls the server behind the APIService directly the way
// the aggregator does: authenticated by the front-proxy client certificate, asserting the user and
// groups in request headers. With user empty it presents no certificate (an anonymous caller).
func (cp *ControlPlane) FrontProxyClient(user string, groups ...string) (*http.Client, error) {
	tlsConfig, err := cp.frontProxyTLS(cp.Server, user != "")
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &identityHeaders{user: user, groups: groups, next: &http.Transport{TLSClientConfig: tlsConfig}},
	}, nil
}

// ReplicaConfig is a client configuration for calling one server directly as the aggregator
// would, on behalf of user and groups; the generated clientset works with it.
func (cp *ControlPlane) ReplicaConfig(s *CozyServer, user string, groups ...string) (*rest.Config, error) {
	tlsConfig, err := cp.frontProxyTLS(s, true)
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host: s.URL(), QPS: -1, Burst: -1,
		ContentConfig: rest.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"},
		Transport:     &identityHeaders{user: user, groups: groups, next: &http.Transport{TLSClientConfig: tlsConfig}},
	}, nil
}

func (cp *ControlPlane) frontProxyTLS(s *CozyServer, withClientCert bool) (*tls.Config, error) {
	caBundle, err := os.ReadFile(filepath.Join(s.certDir(), "apiserver.crt"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caBundle) {
		return nil, fmt.Errorf("no certificates in the serving bundle")
	}
	tlsConfig := &tls.Config{RootCAs: roots, ServerName: ServiceName + "." + ServiceNamespace + ".svc"}
	if withClientCert {
		opts := cp.kubeAPIServer.ServerOpts
		cert, err := tls.LoadX509KeyPair(opts.ProxyClientCertFile, opts.ProxyClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the front-proxy client certificate: %w", err)
		}
		tlsConfig.Certificates = []tls.Certificate{cert}
	}
	return tlsConfig, nil
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
