package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// mixed runs 70% GET, 20% namespace LIST and 10% PATCH from concurrent workers for a fixed time and
// reports the throughput of each path. Each path runs in two halves, in the order apps.cozy.io,
// direct, direct, apps.cozy.io, so a drift of the machine's speed over the run falls on both alike.
func (b *bench) mixed(ctx context.Context) error {
	run := func(direct bool, duration time.Duration, seedBase int64) (int64, error) {
		until, cancel := context.WithTimeout(ctx, duration)
		defer cancel()
		return b.runWorkers(until, seedBase, func(rng *rand.Rand) error {
			kc, ns, name := b.object(rng.Intn(b.cfg.objects))
			client, target := b.cozy(kc).Namespace(ns), name
			if direct {
				client, target = b.direct().Namespace(ns), kc.prefix+name
			}
			var err error
			switch r := rng.Intn(10); {
			case r < 7:
				_, err = client.Get(ctx, target, metav1.GetOptions{})
			case r < 9:
				opts := metav1.ListOptions{}
				if direct {
					opts.LabelSelector = kc.releaseSelector()
				}
				_, err = client.List(ctx, opts)
			default:
				_, err = client.Patch(ctx, target, types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"labels":{"load":"%d"}}}`, rng.Intn(1000))), metav1.PatchOptions{})
			}
			return err
		})
	}
	half := b.cfg.duration / 2
	var cozyOps, directOps int64
	for i, direct := range []bool{false, true, true, false} {
		// Both paths replay the same requests: the halves of each pair share their seeds.
		n, err := run(direct, half, int64(i/2*b.cfg.concurrency))
		if err != nil {
			return err
		}
		if direct {
			directOps += n
		} else {
			cozyOps += n
		}
	}
	cozy, direct := float64(cozyOps)/b.cfg.duration.Seconds(), float64(directOps)/b.cfg.duration.Seconds()
	b.rep.add(fmt.Sprintf("mixed workload, %d workers", b.cfg.concurrency), "ops/s", cozy, direct, "70% GET, 20% LIST, 10% PATCH")
	return nil
}

// runWorkers runs op from --concurrency workers, each with its own random source (seeded from
// seedBase on, so a run can be replayed), until the until context ends or an op fails. Requests
// take their own context: ending until lets requests in flight finish. It returns how many ops
// succeeded and the first failure.
func (b *bench) runWorkers(until context.Context, seedBase int64, op func(rng *rand.Rand) error) (int64, error) {
	var ops atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < b.cfg.concurrency; w++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for until.Err() == nil {
				if err := op(rng); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				ops.Add(1)
			}
		}(seedBase + int64(w))
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return ops.Load(), err
	}
	return ops.Load(), nil
}

// runtimeConvert decodes an unstructured object into a typed one.
func runtimeConvert(u *unstructured.Unstructured, into runtime.Object) error {
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, into)
}
