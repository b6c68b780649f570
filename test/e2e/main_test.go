// Package e2e drives apps.cozy.io through a real kube-apiserver aggregator with the generated
// clientset, the dynamic client and a real kubectl.
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/test/framework"
)

// cp is the control plane every test in the package shares; starting one takes seconds.
var cp *framework.ControlPlane

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// panics counts panics recovered anywhere in this process: kube-apiserver, the aggregator and the
// apps.cozy.io servers all run here, and none may panic on any request the tests send.
var panics atomic.Int64

// fluxLabel on an apps.cozy.io object has the e2e suite's helm-controller install its release.
const fluxLabel = "e2e-flux"

// helmControllerBinary is $HELM_CONTROLLER (make test-e2e sets it) or the one make builds.
func helmControllerBinary() string {
	if path := os.Getenv("HELM_CONTROLLER"); path != "" {
		return path
	}
	return filepath.Join(repoRoot(), "bin", "helm-controller")
}

func run(m *testing.M) int {
	utilruntime.PanicHandlers = append(utilruntime.PanicHandlers, func(_ context.Context, reason any) {
		if reason == http.ErrAbortHandler {
			// How the HTTP stack aborts a timed-out or abandoned request, not a crash.
			return
		}
		panics.Add(1)
		fmt.Fprintf(os.Stderr, "RECOVERED PANIC: %v\n", reason)
	})
	tb := framework.NewProcessTB("e2e")
	defer tb.Close()
	var err error
	cp, err = framework.Start(context.Background(), tb, framework.Options{
		// Short enough to observe bookmarks within a test, and RoleBinding changes in a watch
		// across namespaces (the refresh plus the authorizer's cache).
		ServerFlags: []string{"--watch-bookmark-interval=1s", "--cross-namespace-refresh=1s",
			"--authorization-webhook-cache-authorized-ttl=2s", "--authorization-webhook-cache-unauthorized-ttl=2s"},
		Credentials: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting control plane:", err)
		return 1
	}
	defer cp.Stop()
	if err := installTwinCRDs(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The real helm-controller reconciles only the releases of objects labelled for it, so the
	// other tests keep releases nobody installs (no Flux finalizer, no status writes).
	if _, err := cp.StartFlux(context.Background(), framework.FluxOptions{
		HelmController:     helmControllerBinary(),
		ChartsDir:          filepath.Join(repoRoot(), "artifacts", "charts"),
		WatchLabelSelector: release.StoredKey(fluxLabel) + "=true",
	}); err != nil {
		fmt.Fprintln(os.Stderr, "starting Flux:", err)
		return 1
	}
	code := m.Run()
	if n := panics.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d recovered panic(s) during the e2e run (see RECOVERED PANIC above)\n", n)
		return 1
	}
	return code
}
