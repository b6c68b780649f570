package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on Linux).
const clockTicks = 100

// serverCPU is the CPU time the server process has used so far, in seconds.
func (b *bench) serverCPU() (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.cp.Server.PID()))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it are space-separated.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat: %q", raw)
	}
	utime, err := strconv.ParseFloat(fields[11], 64)
	if err != nil {
		return 0, err
	}
	stime, err := strconv.ParseFloat(fields[12], 64)
	if err != nil {
		return 0, err
	}
	return (utime + stime) / clockTicks, nil
}

// cpuPer1k runs n requests and reports the server's CPU seconds per 1,000 of them (the server
// runs in its own process; kube-apiserver shares the benchmark's, so no direct figure is given).
func (b *bench) cpuPer1k(name string, n int, op func(i int) error) error {
	before, err := b.serverCPU()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := op(i); err != nil {
			return err
		}
	}
	after, err := b.serverCPU()
	if err != nil {
		return err
	}
	b.rep.add("server CPU per 1k "+name, "s", (after-before)/float64(n)*1000, 0, "")
	return nil
}

// withoutAggregator measures GETs sent straight to the server, as the aggregator would send them
// (front-proxy identity headers), so the aggregator's share of a GET stays visible.
func (b *bench) withoutAggregator(ctx context.Context) error {
	cfg, err := b.cp.ReplicaConfig(b.cp.Server, "bench", "system:masters")
	if err != nil {
		return err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return b.compareGets(ctx, "GET without the aggregator", func(kc kindCase) dynamic.NamespaceableResourceInterface {
		return client.Resource(appsv1alpha1.SchemeGroupVersion.WithResource(kc.resource))
	})
}

// cpu measures the server's CPU per 1,000 GETs, LISTs of one namespace, creates, updates and
// deletes.
func (b *bench) cpu(ctx context.Context) error {
	rng := rand.New(rand.NewSource(2))
	n := b.cfg.samples
	if err := b.cpuPer1k("GETs", n, func(int) error {
		kc, ns, name := b.object(rng.Intn(b.cfg.objects))
		_, err := b.cozy(kc).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	}); err != nil {
		return err
	}
	kc := caseOf("Bucket")
	if err := b.cpuPer1k("LISTs of one namespace", n, func(i int) error {
		_, err := b.cozy(kc).Namespace(namespace(i, b.cfg.namespaces)).List(ctx, metav1.ListOptions{})
		return err
	}); err != nil {
		return err
	}
	writes := b.cozy(kc).Namespace("bench-writes")
	if err := b.cpuPer1k("creates", n, func(i int) error {
		obj := kc.example.DeepCopy()
		obj.SetName(fmt.Sprint("cpu-", i))
		_, err := writes.Create(ctx, obj, metav1.CreateOptions{})
		return err
	}); err != nil {
		return err
	}
	if err := b.cpuPer1k("updates (merge patch)", n, func(i int) error {
		_, err := writes.Patch(ctx, fmt.Sprint("cpu-", i), types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"labels":{"seq":"%d"}}}`, i)), metav1.PatchOptions{})
		return err
	}); err != nil {
		return err
	}
	return b.cpuPer1k("deletes", n, func(i int) error {
		return writes.Delete(ctx, fmt.Sprint("cpu-", i), metav1.DeleteOptions{})
	})
}
