package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

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

// ownCPU is the CPU time this process has used so far, in seconds: kube-apiserver, etcd and the
// benchmark's client all run in it.
func ownCPU() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}

// cpuPer1k runs n requests through apps.cozy.io and n of the same verb straight to kube-apiserver
// and reports, per 1,000 requests, the server's CPU seconds against those this process spent on
// the direct ones: kube-apiserver, etcd and the client share this process, so the yardstick is
// what the whole direct path costs, the client included (kube-apiserver alone cannot be told
// apart). The note gives this process's CPU for the requests through apps.cozy.io as well.
func (b *bench) cpuPer1k(name string, n int, cozy, direct func(i int) error) error {
	run := func(op func(int) error) (server, own float64, err error) {
		serverBefore, err := b.serverCPU()
		if err != nil {
			return 0, 0, err
		}
		ownBefore := ownCPU()
		for i := 0; i < n; i++ {
			if err := op(i); err != nil {
				return 0, 0, err
			}
		}
		serverAfter, err := b.serverCPU()
		return (serverAfter - serverBefore) / float64(n) * 1000, (ownCPU() - ownBefore) / float64(n) * 1000, err
	}
	server, controlPlane, err := run(cozy)
	if err != nil {
		return err
	}
	_, directCost, err := run(direct)
	if err != nil {
		return err
	}
	b.rep.add("server CPU per 1k "+name, "s", server, directCost, fmt.Sprintf("direct: kube-apiserver, etcd and client per 1k direct requests; they spend %.2f s per 1k through apps.cozy.io", controlPlane))
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
	}, b.rep.latencies) // without the aggregator its toll is no part of the floor
}

// cpuSamples is the least number of requests each CPU row is taken from: the kernel counts CPU
// time in 10 ms ticks, a few requests' worth.
const cpuSamples = 300

// cpu measures the server's CPU per 1,000 GETs, LISTs of one namespace, creates, updates and
// deletes, beside what the direct path spends on as many.
func (b *bench) cpu(ctx context.Context) error {
	n := max(b.cfg.samples, cpuSamples)
	picks := make([]int, n)
	rng := rand.New(rand.NewSource(2))
	for i := range picks {
		picks[i] = rng.Intn(b.cfg.objects)
	}
	// The generic server's handler chain alone (authentication, authorization, priority and
	// fairness, audit, tracing): a discovery GET the server answers from memory.
	discovery := b.cp.Kube.Discovery().RESTClient()
	if err := b.cpuPer1k("discovery GETs", n, func(int) error {
		return discovery.Get().AbsPath("/apis/apps.cozy.io/v1alpha1").Do(ctx).Error()
	}, func(int) error {
		return discovery.Get().AbsPath("/apis/helm.toolkit.fluxcd.io/v2").Do(ctx).Error()
	}); err != nil {
		return err
	}
	if err := b.cpuPer1k("GETs", n, func(i int) error {
		kc, ns, name := b.object(picks[i])
		_, err := b.cozy(kc).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	}, func(i int) error {
		kc, ns, name := b.object(picks[i])
		_, err := b.direct().Namespace(ns).Get(ctx, kc.prefix+name, metav1.GetOptions{})
		return err
	}); err != nil {
		return err
	}
	kc := caseOf("Bucket")
	selector := metav1.ListOptions{LabelSelector: kc.releaseSelector()}
	if err := b.cpuPer1k("LISTs of one namespace", n, func(i int) error {
		_, err := b.cozy(kc).Namespace(namespace(i, b.cfg.namespaces)).List(ctx, metav1.ListOptions{})
		return err
	}, func(i int) error {
		_, err := b.direct().Namespace(namespace(i, b.cfg.namespaces)).List(ctx, selector)
		return err
	}); err != nil {
		return err
	}
	cozy, direct := b.cozy(kc).Namespace("bench-writes"), b.direct().Namespace("bench-writes")
	if err := b.cpuPer1k("creates", n, func(i int) error {
		obj := kc.example.DeepCopy()
		obj.SetName(fmt.Sprint("cpu-", i))
		_, err := cozy.Create(ctx, obj, metav1.CreateOptions{})
		return err
	}, func(i int) error {
		hr, err := newRelease(kc, fmt.Sprint("cpu-direct-", i))
		if err == nil {
			_, err = direct.Create(ctx, hr, metav1.CreateOptions{})
		}
		return err
	}); err != nil {
		return err
	}
	if err := b.cpuPer1k("updates (merge patch)", n, func(i int) error {
		_, err := cozy.Patch(ctx, fmt.Sprint("cpu-", i), types.MergePatchType, labelPatch(i), metav1.PatchOptions{})
		return err
	}, func(i int) error {
		_, err := direct.Patch(ctx, kc.prefix+fmt.Sprint("cpu-direct-", i), types.MergePatchType, labelPatch(i), metav1.PatchOptions{})
		return err
	}); err != nil {
		return err
	}
	return b.cpuPer1k("deletes", n, func(i int) error {
		return cozy.Delete(ctx, fmt.Sprint("cpu-", i), metav1.DeleteOptions{})
	}, func(i int) error {
		return direct.Delete(ctx, kc.prefix+fmt.Sprint("cpu-direct-", i), metav1.DeleteOptions{})
	})
}
