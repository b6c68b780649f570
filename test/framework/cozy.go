package framework

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/cmd/server"
)

const (
	// ServiceNamespace and ServiceName are where the APIService points, as in artifacts/.
	ServiceNamespace = "cozy-system"
	ServiceName      = "cozy-apiserver"
)

// CozyServer is the apps.cozy.io server running in this process with the flags a deployment
// would give it.
type CozyServer struct {
	cp   *ControlPlane
	name string
	// kubeconfig holds the server's own credentials: its ServiceAccount's token.
	kubeconfig string
	flags      []string
	port       int
	listener   *trackingListener
	// ready is true from the server's first ready /readyz until it stops: only then does the
	// Service send it requests.
	ready   atomic.Bool
	cancel  context.CancelFunc
	done    chan error
	process *os.Process
}

func (s *CozyServer) certDir() string { return filepath.Join(s.cp.StateDir, s.name) }

func (s *CozyServer) start(ctx context.Context, listener net.Listener) error {
	s.port = listener.Addr().(*net.TCPAddr).Port
	o := server.NewOptions()
	fs := pflag.NewFlagSet("cozy-apiserver", pflag.ContinueOnError)
	o.AddFlags(fs)
	args := append([]string{
		"--kubeconfig=" + s.kubeconfig,
		"--authentication-kubeconfig=" + s.kubeconfig,
		"--authorization-kubeconfig=" + s.kubeconfig,
		"--cert-dir=" + s.certDir(),
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", s.port),
		"--alternate-dns=" + ServiceName + "." + ServiceNamespace + ".svc",
		"--authorization-webhook-cache-unauthorized-ttl=1s",
		"--authorization-webhook-cache-authorized-ttl=1s",
	}, s.flags...)
	if err := fs.Parse(args); err != nil {
		listener.Close()
		return err
	}
	if s.cp.serverBinary != "" {
		if err := s.startProcess(ctx, listener, args); err != nil {
			return err
		}
		s.ready.Store(true)
		return nil
	}
	s.listener = &trackingListener{Listener: listener, conns: map[net.Conn]struct{}{}}
	o.RecommendedOptions.SecureServing.Listener = s.listener
	if err := o.Validate(); err != nil {
		listener.Close()
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.done = make(chan error, 1)
	go func() { s.done <- o.Run(runCtx) }()
	if err := s.waitReady(ctx); err != nil {
		return err
	}
	if err := s.waitAuthenticates(ctx); err != nil {
		return err
	}
	s.ready.Store(true)
	return nil
}

// waitAuthenticates waits until the server recognizes the aggregator's front-proxy identity: its
// /readyz does not cover the request-header CA, which it loads from kube-apiserver, so right after
// readiness a request may still be taken for system:anonymous (seen once in CI: TestAuditLog).
func (s *CozyServer) waitAuthenticates(ctx context.Context) error {
	cfg, err := s.cp.ReplicaConfig(s, "framework-probe", "system:masters")
	if err != nil {
		return err
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	return poll(ctx, 30*time.Second, "cozy-apiserver authenticating front-proxy requests", func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/apis/"+appsv1alpha1.SchemeGroupVersion.String(), nil)
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %d", resp.StatusCode)
	})
}

// waitReady polls the server's own /readyz, which includes the HelmRelease cache sync.
func (s *CozyServer) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", s.port)
	// Minutes: a server restarted over 100,000 releases lists them all before it is ready.
	return poll(ctx, 5*time.Minute, "cozy-apiserver /readyz", func(ctx context.Context) (bool, error) {
		select {
		case err := <-s.done:
			s.done <- err
			return false, fmt.Errorf("cozy-apiserver exited: %v", err)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %d", resp.StatusCode)
	})
}

// startProcess runs the server as its own process (the benchmark measures its memory alone). The
// port is handed over by closing the listener just before the process binds it.
func (s *CozyServer) startProcess(ctx context.Context, listener net.Listener, args []string) error {
	listener.Close()
	logFile, err := os.Create(filepath.Join(s.cp.StateDir, s.name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(s.cp.serverBinary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", s.cp.serverBinary, err)
	}
	s.process = cmd.Process
	s.done = make(chan error, 1)
	go func() { s.done <- cmd.Wait(); logFile.Close() }()
	s.cancel = func() { _ = cmd.Process.Signal(syscall.SIGTERM) }
	return s.waitReady(ctx)
}

// PID is the server's process id when it runs as its own process, else 0.
func (s *CozyServer) PID() int {
	if s.process == nil {
		return 0
	}
	return s.process.Pid
}

// Stop ends the server and waits for it to exit.
func (s *CozyServer) Stop() {
	if s.cancel == nil {
		return
	}
	s.ready.Store(false)
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(70 * time.Second):
	}
	s.cancel = nil
}

// Kill ends the server abruptly, as a crashed or killed process: it stops and every connection
// (open watches included) is closed at once rather than drained.
func (s *CozyServer) Kill() {
	if s.cancel == nil {
		return
	}
	s.ready.Store(false)
	s.cancel()
	if s.listener != nil {
		s.listener.closeConns()
	}
	s.Stop()
}

// Restart kills the server and starts it again on the same port with the same flags and
// certificate, as a restarted pod behind the same Service.
func (s *CozyServer) Restart(ctx context.Context) error {
	s.Kill()
	return s.StartAgain(ctx)
}

// StartAgain starts a stopped or killed server on its port with its flags and certificate, and
// waits until it is ready.
func (s *CozyServer) StartAgain(ctx context.Context) error {
	var listener net.Listener
	err := poll(ctx, 10*time.Second, "the server's port free again", func(context.Context) (bool, error) {
		var err error
		listener, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		return err == nil, err
	})
	if err != nil {
		return err
	}
	return s.start(ctx, listener)
}

// trackingListener remembers the connections it accepted, so Kill can close them.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	return c, nil
}

func (l *trackingListener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
	}
}

// registerAPIService creates the Service and APIService exactly as artifacts/ does (with the
// Service resolved to loopback) and waits until the aggregator reports it Available.
func (cp *ControlPlane) registerAPIService(ctx context.Context) error {
	caBundle, err := os.ReadFile(filepath.Join(cp.Server.certDir(), "apiserver.crt"))
	if err != nil {
		return fmt.Errorf("reading serving certificate: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ServiceNamespace}}
	if _, err := cp.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: ServiceNamespace},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost", Ports: []corev1.ServicePort{{Port: 443}}},
	}
	if _, err := cp.Kube.CoreV1().Services(ServiceNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	port := int32(443)
	desired := &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: appsv1alpha1.SchemeGroupVersion.Version + "." + appsv1alpha1.GroupName},
		Spec: apiregistrationv1.APIServiceSpec{
			Group:                appsv1alpha1.GroupName,
			Version:              appsv1alpha1.SchemeGroupVersion.Version,
			Service:              &apiregistrationv1.ServiceReference{Namespace: ServiceNamespace, Name: ServiceName, Port: &port},
			CABundle:             caBundle,
			GroupPriorityMinimum: 1000,
			VersionPriority:      15,
		},
	}
	apiServices := cp.Aggregator.ApiregistrationV1().APIServices()
	existing, err := apiServices.Get(ctx, desired.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = apiServices.Create(ctx, desired, metav1.CreateOptions{})
	case err == nil:
		existing.Spec = desired.Spec
		_, err = apiServices.Update(ctx, existing, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("registering APIService: %w", err)
	}
	err = poll(ctx, 60*time.Second, "APIService Available", func(ctx context.Context) (bool, error) {
		got, err := apiServices.Get(ctx, desired.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiregistrationv1.Available {
				return c.Status == apiregistrationv1.ConditionTrue, fmt.Errorf("%s: %s", c.Reason, c.Message)
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	// The aggregator fetches the server's OpenAPI in the background; kubectl explain and apply
	// need it, so the control plane is ready only once kube-apiserver serves it.
	return poll(ctx, 60*time.Second, "aggregated OpenAPI of apps.cozy.io", func(ctx context.Context) (bool, error) {
		rc := cp.Kube.Discovery().RESTClient()
		if _, err := rc.Get().AbsPath("/openapi/v3/apis/" + appsv1alpha1.SchemeGroupVersion.String()).DoRaw(ctx); err != nil {
			return false, err
		}
		v2, err := rc.Get().AbsPath("/openapi/v2").DoRaw(ctx)
		if err != nil {
			return false, err
		}
		return bytes.Contains(v2, []byte("io.cozy.apps.v1alpha1.Kubernetes")), nil
	})
}
