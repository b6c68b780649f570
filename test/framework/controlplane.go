// Package framework starts a real control plane in-process: embedded etcd, kube-apiserver from
// k8s.io/kubernetes with RBAC and the aggregator, Flux's real HelmRelease CRD and the platform's
// workload CRDs, and the apps.cozy.io server registered through an APIService; StartFlux adds the
// real helm-controller. Tests and `make run` share it.
package framework

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	kubeapiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kubeapiservertesting "k8s.io/kubernetes/cmd/kube-apiserver/app/testing"
	"k8s.io/kubernetes/test/utils/ktesting"

	"github.com/cozystack/apps-apiserver/generated/clientset/versioned"
)

// Options shape a control plane.
type Options struct {
	// StateDir keeps etcd's data and the kubeconfig across restarts. Empty means a temporary
	// directory removed on Stop.
	StateDir string
	// ServerFlags are extra cozy-apiserver flags.
	ServerFlags []string
	// ServerBinary, if set, runs the apps.cozy.io server as this executable in its own process
	// instead of in this one, so its memory can be measured alone.
	ServerBinary string
	// UpstreamProxy puts a FaultProxy (ControlPlane.Upstream) between the apps.cozy.io servers and
	// kube-apiserver, so a test can cut the servers off kube-apiserver as its restart would.
	UpstreamProxy bool
	// Credentials applies the optional artifacts/deploy/optional/credentials-rbac.yaml and starts the
	// server with --credentials-subresources.
	Credentials bool
}

// ControlPlane is a running control plane with clients for it.
type ControlPlane struct {
	// Config is an admin client configuration for kube-apiserver.
	Config *rest.Config
	// KubeconfigPath is a kubeconfig file with the same admin credentials.
	KubeconfigPath string
	// StateDir holds etcd data, certificates and the kubeconfig.
	StateDir string

	Kube          kubernetes.Interface
	Dynamic       dynamic.Interface
	Apps          versioned.Interface
	APIExtensions apiextensionsclient.Interface
	Aggregator    aggregatorclient.Interface

	// Server is the apps.cozy.io server, which tests may stop and restart.
	Server *CozyServer
	// Upstream, with Options.UpstreamProxy, carries the servers' connections to kube-apiserver.
	Upstream *FaultProxy

	replicas        []*CozyServer
	flux            *Flux
	serverBinary    string
	stopControllers context.CancelFunc
	etcd            *embed.Etcd
	etcdURL         string
	service         *serviceResolver
	kubeAPIServer   kubeapiservertesting.TestServer
	resetResolver   func()
	ownsStateDir    bool
}

// Start brings up etcd, kube-apiserver, the HelmRelease CRD and the apps.cozy.io server, and
// returns once the APIService is Available. tb receives kube-apiserver's logs and cleanups.
func Start(ctx context.Context, tb ktesting.TB, opts Options) (cp *ControlPlane, err error) {
	cp = &ControlPlane{StateDir: opts.StateDir, serverBinary: opts.ServerBinary}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()
	if cp.StateDir == "" {
		if cp.StateDir, err = os.MkdirTemp("", "cozy-controlplane"); err != nil {
			return nil, err
		}
		cp.ownsStateDir = true
	}
	if err := os.MkdirAll(cp.StateDir, 0o700); err != nil {
		return nil, err
	}

	if cp.etcd, cp.etcdURL, err = startEtcd(filepath.Join(cp.StateDir, "etcd")); err != nil {
		return nil, err
	}

	// The aggregator reaches the apps.cozy.io server through its Service; in-process the Service
	// resolves to this listener on loopback.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cp.service = &serviceResolver{}
	cp.resetResolver = kubeapiserverapp.SetServiceResolverForTests(cp.service)

	storage := storagebackend.NewDefaultConfig("/registry", nil)
	storage.Transport.ServerList = []string{cp.etcdURL}
	cp.kubeAPIServer, err = kubeapiservertesting.StartTestServer(tb,
		&kubeapiservertesting.TestServerInstanceOptions{EnableCertAuth: true},
		[]string{"--authorization-mode=RBAC"}, storage)
	if err != nil {
		listener.Close()
		return nil, fmt.Errorf("starting kube-apiserver: %w", err)
	}
	cp.Config = rest.CopyConfig(cp.kubeAPIServer.ClientConfig)
	cp.Config.QPS, cp.Config.Burst = -1, -1
	// apps.cozy.io types have no protobuf encoding (as CRDs); clients speak JSON everywhere.
	cp.Config.ContentType, cp.Config.AcceptContentTypes = "application/json", "application/json"
	cp.KubeconfigPath = filepath.Join(cp.StateDir, "kubeconfig")
	if err := writeKubeconfig(cp.KubeconfigPath, cp.Config); err != nil {
		listener.Close()
		return nil, err
	}
	if err := cp.buildClients(); err != nil {
		listener.Close()
		return nil, err
	}
	if opts.UpstreamProxy {
		if cp.Upstream, err = NewFaultProxy(strings.TrimPrefix(cp.Config.Host, "https://")); err != nil {
			listener.Close()
			return nil, err
		}
	}
	if err := installHelmReleaseCRD(ctx, cp.APIExtensions); err != nil {
		listener.Close()
		return nil, err
	}
	// The workload types exist before the server starts, as on a platform, so it projects their
	// state from the start.
	if err := InstallPlatformCRDs(ctx, cp.APIExtensions); err != nil {
		listener.Close()
		return nil, err
	}
	// The platform's catalog type exists before the server starts; definitions come later.
	if err := cp.InstallApplicationDefinitionCRD(ctx); err != nil {
		listener.Close()
		return nil, err
	}
	// The server gets exactly the rights artifacts/deploy grants it, and tenants the shipped roles.
	if err := cp.applyManifests(ctx, "00-namespace.yaml", "10-rbac.yaml", "60-tenant-roles.yaml"); err != nil {
		listener.Close()
		return nil, err
	}
	if opts.Credentials {
		if err := cp.applyManifests(ctx, "optional/credentials-rbac.yaml"); err != nil {
			listener.Close()
			return nil, err
		}
		opts.ServerFlags = append(opts.ServerFlags, "--credentials-subresources")
	}
	// kube-controller-manager's controllers the platform relies on, in this process.
	controllersCtx, stopControllers := context.WithCancel(context.WithoutCancel(ctx))
	cp.stopControllers = stopControllers
	for _, start := range []func(context.Context) error{
		cp.startNamespaceController, cp.startGarbageCollector, cp.startResourceQuotaController, cp.startRoleAggregation,
	} {
		if err := start(controllersCtx); err != nil {
			listener.Close()
			return nil, err
		}
	}
	serverKubeconfig, err := cp.serverKubeconfig(ctx)
	if err != nil {
		listener.Close()
		return nil, err
	}
	cp.Server = &CozyServer{cp: cp, name: "cozy-apiserver", kubeconfig: serverKubeconfig, flags: opts.ServerFlags}
	cp.ServeBehindService(cp.Server)
	if err := cp.Server.start(ctx, listener); err != nil {
		return nil, err
	}
	if err := cp.registerAPIService(ctx); err != nil {
		return nil, err
	}
	return cp, nil
}

func (cp *ControlPlane) buildClients() error {
	var err error
	if cp.Kube, err = kubernetes.NewForConfig(cp.Config); err != nil {
		return err
	}
	if cp.Dynamic, err = dynamic.NewForConfig(cp.Config); err != nil {
		return err
	}
	if cp.Apps, err = versioned.NewForConfig(cp.Config); err != nil {
		return err
	}
	if cp.APIExtensions, err = apiextensionsclient.NewForConfig(cp.Config); err != nil {
		return err
	}
	cp.Aggregator, err = aggregatorclient.NewForConfig(cp.Config)
	return err
}

// StartReplica starts another apps.cozy.io server with the same flags and serving certificate
// plus extraFlags, as a second replica of a Deployment would run. It is not behind the APIService
// until ServeBehindService: reach it with ReplicaConfig.
func (cp *ControlPlane) StartReplica(ctx context.Context, name string, extraFlags ...string) (*CozyServer, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	replica := &CozyServer{cp: cp, name: name, kubeconfig: cp.Server.kubeconfig, flags: append(append([]string{}, cp.Server.flags...), extraFlags...)}
	// Replicas share the serving certificate, as a Deployment's pods share its Secret, so the
	// APIService's caBundle trusts every one of them.
	if err := os.MkdirAll(replica.certDir(), 0o700); err != nil {
		listener.Close()
		return nil, err
	}
	for _, file := range []string{"apiserver.crt", "apiserver.key"} {
		data, err := os.ReadFile(filepath.Join(cp.Server.certDir(), file))
		if err == nil {
			err = os.WriteFile(filepath.Join(replica.certDir(), file), data, 0o600)
		}
		if err != nil {
			listener.Close()
			return nil, fmt.Errorf("sharing the serving certificate: %w", err)
		}
	}
	if err := replica.start(ctx, listener); err != nil {
		replica.Stop()
		return nil, err
	}
	cp.replicas = append(cp.replicas, replica)
	return replica, nil
}

// Stop shuts everything down: the aggregated servers first, or kube-apiserver waits a minute for
// their connections to drain.
func (cp *ControlPlane) Stop() {
	// The controllers first: their watches through the aggregator would hold kube-apiserver's
	// shutdown once the aggregated servers are gone.
	if cp.stopControllers != nil {
		cp.stopControllers()
	}
	cp.flux.Stop()
	if cp.Upstream != nil {
		cp.Upstream.Close()
	}
	for _, r := range cp.replicas {
		r.Stop()
	}
	if cp.Server != nil {
		cp.Server.Stop()
	}
	if cp.kubeAPIServer.TearDownFn != nil {
		cp.kubeAPIServer.TearDownFn()
	}
	if cp.resetResolver != nil {
		cp.resetResolver()
	}
	if cp.etcd != nil {
		cp.etcd.Close()
	}
	if cp.ownsStateDir {
		_ = os.RemoveAll(cp.StateDir)
	}
}

// serviceResolver sends the server's Service, which the aggregator resolves for every request,
// to the local ports of the ready servers behind it, in turn, as a Service spreads requests over
// the endpoints of its ready pods.
type serviceResolver struct {
	mu      sync.Mutex
	servers []*CozyServer
	next    int
}

func (r *serviceResolver) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	if namespace != ServiceNamespace || name != ServiceName {
		return nil, fmt.Errorf("no in-process endpoint for service %s/%s", namespace, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for range r.servers {
		r.next = (r.next + 1) % len(r.servers)
		if s := r.servers[r.next]; s.ready.Load() {
			return &url.URL{Scheme: "https", Host: fmt.Sprintf("127.0.0.1:%d", s.port)}, nil
		}
	}
	return nil, fmt.Errorf("service %s/%s has no ready endpoints", namespace, name)
}

// ServeBehindService puts servers behind the Service (the APIService's backends), as a
// Deployment's pods are; only those ready receive requests.
func (cp *ControlPlane) ServeBehindService(servers ...*CozyServer) {
	cp.service.mu.Lock()
	defer cp.service.mu.Unlock()
	cp.service.servers = append([]*CozyServer(nil), servers...)
}

// poll calls cond every 100ms until it reports done, fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		done, err := cond(ctx)
		if done {
			return nil
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
