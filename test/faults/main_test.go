// Package faults is the fault suite: the read model under kube-apiserver outages, etcd
// compaction, replicas killed, server restarts and slow clients, compared event by event with a
// watch on the HelmReleases straight from kube-apiserver. `make test-faults` runs it alone;
// `make test` runs it with everything else.
package faults

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/cozystack/apps-apiserver/test/framework"
)

// eventLogSize is the server's event log here: small, so that faults outlast it.
const eventLogSize = 100

var (
	cp *framework.ControlPlane
	// clientProxy carries the test clients' connections to kube-apiserver, so a test can cut
	// them off (a network fault between clients and the API) while writes go on.
	clientProxy *framework.FaultProxy
	// clients reach apps.cozy.io through clientProxy.
	clients dynamic.Interface
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	tb := framework.NewProcessTB("faults")
	defer tb.Close()
	var err error
	cp, err = framework.Start(context.Background(), tb, framework.Options{
		UpstreamProxy: true,
		ServerFlags:   []string{"--watch-bookmark-interval=1s", fmt.Sprintf("--watch-event-log-size=%d", eventLogSize)},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting control plane:", err)
		return 1
	}
	defer cp.Stop()
	if clientProxy, err = framework.NewFaultProxy(strings.TrimPrefix(cp.Config.Host, "https://")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer clientProxy.Close()
	cfg := rest.CopyConfig(cp.Config)
	cfg.Host = "https://" + clientProxy.Addr()
	if clients, err = dynamic.NewForConfig(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

var namespaceSeq atomic.Int64

// newTenant creates a fresh tenant namespace.
func newTenant(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("faults-%d", namespaceSeq.Add(1))
	if err := cp.CreateNamespace(context.Background(), name, name); err != nil {
		t.Fatal(err)
	}
	return name
}
