// Command bench measures apps.cozy.io against the yardstick it can never beat: kube-apiserver
// serving the same HelmReleases directly, in the same run on the same in-process control plane
// (the apps.cozy.io server runs as its own process so its memory is measured alone). It prints a
// table and writes bench-results.json.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/klog/v2"

	"github.com/cozystack/apps-apiserver/test/framework"
)

func main() {
	cfg := config{}
	flag.IntVar(&cfg.objects, "objects", 10000, "objects to seed (a mix of every kind)")
	flag.IntVar(&cfg.kinds, "kinds", len(typedKindCases), "kinds the objects are spread over: the typed ones, then copies of catalog definitions")
	flag.IntVar(&cfg.namespaces, "namespaces", 100, "tenant namespaces the objects are spread over")
	flag.IntVar(&cfg.samples, "samples", 300, "samples per latency measure")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "duration of each mixed-workload run")
	flag.IntVar(&cfg.concurrency, "concurrency", 16, "workers in the mixed workload and while seeding")
	flag.StringVar(&cfg.server, "server", "", "cozy-apiserver binary (make bench builds bin/cozy-apiserver)")
	flag.StringVar(&cfg.out, "out", "bench-results.json", "where to write the JSON results")
	flag.StringVar(&cfg.profileDir, "profile-dir", "", "if set, write the server's heap profile and its CPU profiles under GET and merge-patch load here (go tool pprof)")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	objects, kinds, namespaces, samples, concurrency int
	duration                                         time.Duration
	server, out, profileDir                          string
}

func run(cfg config) error {
	if cfg.server == "" {
		return fmt.Errorf("--server is required")
	}
	state, err := os.MkdirTemp("", "cozy-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	logFile, err := os.Create(filepath.Join(state, "control-plane.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("logtostderr", "false")
	_ = klogFlags.Set("stderrthreshold", "FATAL")
	klog.SetOutput(logFile)

	ctx := context.Background()
	fmt.Println("Starting the control plane...")
	tb := framework.NewProcessTB("bench")
	defer tb.Close()
	cp, err := framework.Start(ctx, tb, framework.Options{StateDir: state, ServerBinary: cfg.server})
	if err != nil {
		return err
	}
	defer cp.Stop()

	b := &bench{cp: cp, cfg: cfg, kinds: typedKindCases, rep: &report{Objects: cfg.objects, Kinds: cfg.kinds, Namespaces: cfg.namespaces, Started: time.Now().UTC().Format(time.RFC3339)}}
	baseline, err := b.measureMemory(ctx)
	if err != nil {
		return err
	}
	if err := b.defineScaleKinds(ctx); err != nil {
		return err
	}
	if err := b.seed(ctx); err != nil {
		return err
	}
	fmt.Println("Measuring (apps.cozy.io through the aggregator vs HelmReleases straight from kube-apiserver):")
	for _, step := range []func(context.Context) error{
		b.memory(baseline, "after seeding"),
		b.aggregatorToll, b.gets, b.withoutAggregator, b.lists, b.writes, b.cpu, b.watches, b.mixed, b.profiles,
		b.memory(baseline, "after the run"),
		b.restart,
		b.definitionChanged,
		b.catalog,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	fmt.Println()
	fmt.Print(b.rep.table())
	raw, err := json.MarshalIndent(b.rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfg.out, raw, 0o644); err != nil {
		return err
	}
	fmt.Println("\nWrote", cfg.out)
	return nil
}
