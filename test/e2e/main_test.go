// Package e2e drives apps.cozy.io through a real kube-apiserver aggregator with the generated
// clientset, the dynamic client and a real kubectl.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/cozystack/apps-apiserver/test/framework"
)

// cp is the control plane every test in the package shares; starting one takes seconds.
var cp *framework.ControlPlane

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
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
	if err := installTwinCRD(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
