// Package e2e drives apps.cozy.io through a real kube-apiserver aggregator with the generated
// clientset, the dynamic client and a real kubectl.
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

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
		// Short enough to observe bookmarks within a test.
		ServerFlags: []string{"--watch-bookmark-interval=1s"},
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
	code := m.Run()
	if n := panics.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d recovered panic(s) during the e2e run (see RECOVERED PANIC above)\n", n)
		return 1
	}
	return code
}
