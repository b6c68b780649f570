package frontproxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"reflect"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// issuer is a CA that signs client certificates.
type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial int64

func newCertificate(t *testing.T, cn string, parent *issuer, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	} else {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func newIssuer(t *testing.T) *issuer {
	cert, key := newCertificate(t, "front-proxy-ca", nil, time.Now().Add(24*time.Hour))
	return &issuer{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}
}

// caProvider serves whichever bundle is current, with stable verify options between changes, as
// the generic server's file and ConfigMap providers do.
type caProvider struct {
	current dynamiccertificates.CAContentProvider
}

func (p *caProvider) Name() string                              { return "test" }
func (p *caProvider) CurrentCABundleContent() []byte            { return p.current.CurrentCABundleContent() }
func (p *caProvider) VerifyOptions() (x509.VerifyOptions, bool) { return p.current.VerifyOptions() }
func (p *caProvider) AddListener(dynamiccertificates.Listener)  {}

func (p *caProvider) use(t *testing.T, ca *issuer) {
	t.Helper()
	static, err := dynamiccertificates.NewStaticCAContent("test", ca.pem)
	if err != nil {
		t.Fatal(err)
	}
	p.current = static
}

// otherCredentials stands for the generic server's other authenticators: it knows one token.
var otherCredentials = authenticator.RequestFunc(func(req *http.Request) (*authenticator.Response, bool, error) {
	if req.Header.Get("Authorization") == "Bearer known" {
		return &authenticator.Response{User: &user.DefaultInfo{Name: "token-user"}}, true, nil
	}
	return nil, false, nil
})

func request(cert *x509.Certificate, headers map[string]string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "https://server/apis", nil)
	if cert != nil {
		req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req
}

type outcome struct {
	user  user.Info
	ok    bool
	err   bool
	clean bool // the X-Remote headers were removed
}

func authenticate(a authenticator.Request, req *http.Request) outcome {
	resp, ok, err := a.AuthenticateRequest(req)
	out := outcome{ok: ok, err: err != nil, clean: req.Header.Get("X-Remote-User") == ""}
	if resp != nil {
		out.user = resp.User
	}
	return out
}

// TestSameOutcomesAsTheRequestHeaderAuthenticator runs each request through this authenticator
// and through k8s.io/apiserver's own (request headers with the certificate verified each time,
// then the other credentials): the outcomes are the same, and a certificate is verified once per
// connection while its CA bundle stays and its verification is recent.
func TestSameOutcomesAsTheRequestHeaderAuthenticator(t *testing.T) {
	ca, other := newIssuer(t), newIssuer(t)
	proxyCert, _ := newCertificate(t, "front-proxy-client", ca, time.Now().Add(time.Hour))
	shortLived, _ := newCertificate(t, "front-proxy-client", ca, time.Now().Add(2*time.Minute))
	strangerCert, _ := newCertificate(t, "someone-else", ca, time.Now().Add(time.Hour))
	foreignCert, _ := newCertificate(t, "front-proxy-client", other, time.Now().Add(time.Hour))

	provider := &caProvider{}
	provider.use(t, ca)
	config := &authenticatorfactory.RequestHeaderConfig{
		UsernameHeaders:     headerrequest.StaticStringSlice{"X-Remote-User"},
		UIDHeaders:          headerrequest.StaticStringSlice{"X-Remote-Uid"},
		GroupHeaders:        headerrequest.StaticStringSlice{"X-Remote-Group"},
		ExtraHeaderPrefixes: headerrequest.StaticStringSlice{"X-Remote-Extra-"},
		CAContentProvider:   provider,
		AllowedClientNames:  headerrequest.StaticStringSlice{"front-proxy-client"},
	}
	reference := group.NewAuthenticatedGroupAdder(union.New(headerrequest.NewDynamicVerifyOptionsSecure(
		provider.VerifyOptions, config.AllowedClientNames, config.UsernameHeaders, config.UIDHeaders, config.GroupHeaders, config.ExtraHeaderPrefixes), otherCredentials))
	// Ours wraps only the other credentials here, so every outcome is its own.
	ours := New(config, group.NewAuthenticatedGroupAdder(otherCredentials)).(*Authenticator)
	clock := time.Now()
	ours.now = func() time.Time { return clock }

	alice := map[string]string{"X-Remote-User": "alice", "X-Remote-Group": "tenant-a", "X-Remote-Extra-Scopes": "s"}
	steps := []struct {
		name          string
		cert          *x509.Certificate
		headers       map[string]string
		before        func()
		verifications int64
		ok            bool
	}{
		{"the front proxy's first request", proxyCert, alice, nil, 1, true},
		{"its next request on the connection", proxyCert, map[string]string{"X-Remote-User": "bob"}, nil, 1, true},
		{"a request without a user", proxyCert, map[string]string{"Authorization": "Bearer known"}, nil, 1, true},
		{"a certificate of another CA", foreignCert, alice, nil, 2, false},
		{"a client the front proxy may not be", strangerCert, alice, nil, 2, false},
		{"no client certificate", nil, alice, nil, 2, false},
		{"a certificate valid for two minutes", shortLived, alice, nil, 3, true},
		{"a minute later", shortLived, alice, func() { clock = clock.Add(time.Minute) }, 3, true},
		{"past its validity, verified again", shortLived, alice, func() { clock = clock.Add(2 * time.Minute) }, 4, true},
		{"after the verification is old", proxyCert, alice, func() { clock = clock.Add(verifiedFor) }, 5, true},
		{"the CA bundle replaced by one that does not sign it", proxyCert, alice, func() { provider.use(t, other) }, 6, false},
		{"the other CA's certificate now", foreignCert, alice, nil, 7, true},
		{"and again on its connection", foreignCert, alice, nil, 7, true},
	}
	for _, step := range steps {
		if step.before != nil {
			step.before()
		}
		want := authenticate(reference, request(step.cert, step.headers))
		got := authenticate(ours, request(step.cert, step.headers))
		if got.ok != step.ok {
			t.Errorf("%s: authenticated %v, want %v", step.name, got.ok, step.ok)
		}
		if got.ok != want.ok || got.clean != want.clean || !reflect.DeepEqual(got.user, want.user) {
			t.Errorf("%s: got %+v, want %+v", step.name, got, want)
		}
		if n := ours.verifications.Load(); n != step.verifications {
			t.Errorf("%s: %d certificate verifications, want %d", step.name, n, step.verifications)
		}
	}
}

func TestWithoutAFrontProxyTheServersAuthenticatorIsUsed(t *testing.T) {
	if got := New(nil, otherCredentials); reflect.ValueOf(got).Pointer() != reflect.ValueOf(otherCredentials).Pointer() {
		t.Errorf("wrapped without a front proxy: %T", got)
	}
}
