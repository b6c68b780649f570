// Package frontproxy authenticates requests that kube-apiserver's aggregator forwards, as
// k8s.io/apiserver's request-header authenticator does, but verifies the aggregator's client
// certificate once per connection instead of once per request.
//
// Every request through the aggregator carries the user in X-Remote-* headers, trusted because the
// connection presents a client certificate of the front-proxy CA. k8s.io/apiserver verifies that
// certificate's chain on every request (x509.Certificate.Verify: a signature check and the chain
// build), a fixed few percent of the server's CPU per request on a connection the aggregator keeps
// open for thousands of them. No library caches it, so this package does: a certificate object is
// the same on every request of one TLS connection, which proved its private key in the handshake,
// so a verification is kept per certificate object, as long as the front-proxy CA bundle is the
// same, within the chain's validity and at most verifiedFor.
package frontproxy

import (
	"crypto/x509"
	"net/http"
	"sync/atomic"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/utils/lru"
)

// verifiedFor bounds how long one verification is trusted, so that a certificate is verified
// again now and then on a connection that lives for days.
const verifiedFor = 5 * time.Minute

// cachedCertificates bounds the certificates kept: one per open connection of the aggregator
// (kube-apiserver replicas times their connections), a handful in practice.
const cachedCertificates = 256

// Authenticator authenticates a request from the front proxy whose client certificate was
// verified before on its connection by its headers alone, and hands every other request to the
// authenticator it wraps (the generic server's, which verifies the certificate, or tries client
// certificates and tokens).
type Authenticator struct {
	config   *authenticatorfactory.RequestHeaderConfig
	headers  authenticator.Request
	next     authenticator.Request
	verified *lru.Cache
	now      func() time.Time
	// verifications counts certificate chains verified (for tests).
	verifications atomic.Int64
}

// verification is one certificate's verified chain: valid against the CA bundle's roots and
// intermediates until expires.
type verification struct {
	roots, intermediates *x509.CertPool
	expires              time.Time
}

// New wraps next, the generic server's authenticator, built from the same request-header config;
// a nil config (no front proxy configured) leaves next as it is.
func New(config *authenticatorfactory.RequestHeaderConfig, next authenticator.Request) authenticator.Request {
	if config == nil || config.CAContentProvider == nil {
		return next
	}
	headers := headerrequest.NewDynamic(config.UsernameHeaders, config.UIDHeaders, config.GroupHeaders, config.ExtraHeaderPrefixes)
	return &Authenticator{
		config: config,
		// As the generic server's authenticator, the front proxy's users are authenticated users.
		headers:  group.NewAuthenticatedGroupAdder(headers),
		next:     next,
		verified: lru.New(cachedCertificates),
		now:      time.Now,
	}
}

// AuthenticateRequest is the request-header authentication with the verification of the front
// proxy's certificate kept per connection.
func (a *Authenticator) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	if !a.fromFrontProxy(req) {
		return a.next.AuthenticateRequest(req)
	}
	resp, ok, err := a.headers.AuthenticateRequest(req)
	if err != nil || !ok {
		// No user in the headers: other credentials may still authenticate the request.
		return a.next.AuthenticateRequest(req)
	}
	return resp, true, nil
}

// fromFrontProxy reports whether the request's client certificate is the front proxy's: verified
// against the front-proxy CA (kept from an earlier request of the connection, or verified now) and
// named as the front proxy may be.
func (a *Authenticator) fromFrontProxy(req *http.Request) bool {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		return false
	}
	opts, ok := a.config.CAContentProvider.VerifyOptions()
	if !ok {
		return false
	}
	cert := req.TLS.PeerCertificates[0]
	if !a.allowedName(cert.Subject.CommonName) {
		return false
	}
	now := a.now()
	if v, found := a.verified.Get(cert); found {
		if v := v.(verification); v.roots == opts.Roots && v.intermediates == opts.Intermediates && now.Before(v.expires) {
			return true
		}
	}
	bundle := verification{roots: opts.Roots, intermediates: opts.Intermediates}
	if opts.Intermediates == nil && len(req.TLS.PeerCertificates) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, intermediate := range req.TLS.PeerCertificates[1:] {
			opts.Intermediates.AddCert(intermediate)
		}
	}
	a.verifications.Add(1)
	chains, err := cert.Verify(opts)
	if err != nil || len(chains) == 0 {
		return false
	}
	expires := now.Add(verifiedFor)
	for _, c := range chains[0] {
		if c.NotAfter.Before(expires) {
			expires = c.NotAfter
		}
	}
	bundle.expires = expires
	a.verified.Add(cert, bundle)
	return true
}

// allowedName reports whether the certificate's common name is one the front proxy may have
// (any, when none is configured).
func (a *Authenticator) allowedName(commonName string) bool {
	if a.config.AllowedClientNames == nil {
		return true
	}
	allowed := a.config.AllowedClientNames.Value()
	if len(allowed) == 0 {
		return true
	}
	for _, name := range allowed {
		if name == commonName {
			return true
		}
	}
	return false
}
