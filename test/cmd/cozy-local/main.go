// Command cozy-local runs a complete local control plane for trying apps.cozy.io by hand: embedded
// etcd, kube-apiserver with the aggregator, Flux's HelmRelease CRD and the apps.cozy.io server, all
// in this process. State survives restarts in --state-dir; Ctrl-C stops everything cleanly.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/cozystack/apps-apiserver/test/framework"
)

const demoNamespace, demoTenant = "tenant-demo", "demo"

func main() {
	stateDir := flag.String("state-dir", ".state", "Directory keeping etcd data, certificates, logs and the kubeconfig across restarts.")
	kubectl := flag.String("kubectl", "kubectl", "kubectl binary named in the printed instructions.")
	flag.Parse()
	if err := run(*stateDir, *kubectl); err != nil {
		fmt.Fprintln(os.Stderr, "cozy-local:", err)
		os.Exit(1)
	}
}

func run(stateDir, kubectl string) error {
	stateDir, err := filepath.Abs(stateDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	logPath := filepath.Join(stateDir, "control-plane.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// The control plane logs a lot; keep it in a file and the terminal for instructions.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	for name, value := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL"} {
		if err := klogFlags.Set(name, value); err != nil {
			return err
		}
	}
	klog.SetOutput(logFile)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	fmt.Printf("Starting etcd, kube-apiserver and cozy-apiserver (state in %s, logs in %s)...\n", stateDir, logPath)
	tb := framework.NewProcessTB("cozy-local")
	defer tb.Close()
	cp, err := framework.Start(ctx, tb, framework.Options{StateDir: stateDir})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("Stopping...")
		cp.Stop()
	}()
	if err := cp.CreateNamespace(ctx, demoNamespace, demoTenant); err != nil {
		return err
	}
	examples, err := filepath.Abs(filepath.Join("artifacts", "examples"))
	if err != nil {
		return err
	}
	fmt.Printf(`
Ready in %s. apps.cozy.io is served through the aggregator; %q is a tenant namespace.

  export KUBECONFIG=%s
  %s api-resources --api-group=apps.cozy.io
  %s explain kubernetes.spec.nodeGroups
  %s apply -n %s -f %s
  %s get cozy -n %s
  %s get kubernetes -n %s -o yaml
  %s get helmreleases -n %s

Press Ctrl-C to stop; state is kept in %s.
`, time.Since(started).Round(100*time.Millisecond), demoNamespace, cp.KubeconfigPath,
		kubectl, kubectl, kubectl, demoNamespace, examples, kubectl, demoNamespace, kubectl, demoNamespace,
		kubectl, demoNamespace, stateDir)
	<-ctx.Done()
	return nil
}
