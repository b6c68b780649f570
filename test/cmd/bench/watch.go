package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// watchLatency opens n watchers, calls opened (if any) once they all are, makes writes
// sequential changes through write (labelled with round), and returns the time from the start of
// each write to each watcher receiving it, in milliseconds.
func watchLatency(ctx context.Context, n, writes int, round string, open func() (watch.Interface, error), opened func() error, write func(seq int) error) ([]float64, error) {
	type arrival struct {
		seq int
		at  time.Time
	}
	arrivals := make(chan arrival, n*writes)
	var wg sync.WaitGroup
	var watchers []watch.Interface
	for i := 0; i < n; i++ {
		w, err := open()
		if err != nil {
			return nil, err
		}
		watchers = append(watchers, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range w.ResultChan() {
				obj, ok := e.Object.(*unstructured.Unstructured)
				if !ok || e.Type != watch.Modified || obj.GetLabels()["round"] != round {
					continue
				}
				var seq int
				if _, err := fmt.Sscan(obj.GetLabels()["seq"], &seq); err == nil {
					arrivals <- arrival{seq, time.Now()}
				}
			}
		}()
	}
	defer func() {
		for _, w := range watchers {
			w.Stop()
		}
		wg.Wait()
	}()
	time.Sleep(200 * time.Millisecond) // let every watch reach the server before writing
	if opened != nil {
		if err := opened(); err != nil {
			return nil, err
		}
	}
	started := make([]time.Time, writes)
	for seq := 0; seq < writes; seq++ {
		started[seq] = time.Now()
		if err := write(seq); err != nil {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
	var latencies []float64
	timeout := time.After(30 * time.Second)
	for len(latencies) < n*writes {
		select {
		case a := <-arrivals:
			latencies = append(latencies, float64(a.at.Sub(started[a.seq]).Microseconds())/1000)
		case <-timeout:
			return nil, fmt.Errorf("only %d of %d watch events arrived", len(latencies), n*writes)
		}
	}
	return latencies, nil
}

func (b *bench) watches(ctx context.Context) error {
	kc := caseOf("Bucket")
	cozyClient := b.cozy(kc).Namespace("bench-watch")
	directClient := b.direct().Namespace("bench-watch")
	obj := kc.example.DeepCopy()
	obj.SetName("watched")
	if _, err := cozyClient.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		return err
	}
	seqPatch := func(c dynamic.ResourceInterface, name string, round int) func(int) error {
		return func(seq int) error {
			_, err := c.Patch(ctx, name, types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"labels":{"seq":"%d","round":"%d"}}}`, seq, round)), metav1.PatchOptions{})
			return err
		}
	}
	writes := 30
	for round, n := range []int{1, 100} {
		current, err := cozyClient.Get(ctx, "watched", metav1.GetOptions{})
		if err != nil {
			return err
		}
		var upstream, workloadMax int
		cozy, err := watchLatency(ctx, n, writes, fmt.Sprint(round*2), func() (watch.Interface, error) {
			return cozyClient.Watch(ctx, metav1.ListOptions{ResourceVersion: current.GetResourceVersion()})
		}, func() error {
			// Count kube-apiserver's HelmRelease watches while every client watch is open, before
			// the timed writes (counting takes as long as several writes).
			var err error
			if upstream, err = b.cp.UpstreamWatches(ctx, release.HelmReleaseGVR.GroupResource()); err != nil {
				return err
			}
			// And on each workload type the server projects status from.
			for _, w := range kinds.WorkloadResources() {
				n, err := b.cp.UpstreamWatches(ctx, w.GroupResource())
				if err != nil {
					return err
				}
				workloadMax = max(workloadMax, n)
			}
			return nil
		}, seqPatch(cozyClient, "watched", round*2))
		if err != nil {
			return fmt.Errorf("apps.cozy.io watch: %w", err)
		}
		direct, err := watchLatency(ctx, n, writes, fmt.Sprint(round*2+1), func() (watch.Interface, error) {
			return directClient.Watch(ctx, metav1.ListOptions{})
		}, nil, seqPatch(directClient, kc.prefix+"watched", round*2+1))
		if err != nil {
			return fmt.Errorf("direct watch: %w", err)
		}
		b.rep.latencies(fmt.Sprintf("watch delivery, %d watcher(s)", n), cozy, direct)
		b.rep.add(fmt.Sprintf("upstream HelmRelease watches, %d watcher(s)", n), "watches", float64(upstream), 0, "kube-apiserver's count while the clients watch apps.cozy.io")
		b.rep.add(fmt.Sprintf("upstream watches per workload type (max), %d watcher(s)", n), "watches", float64(workloadMax), 0, "the most kube-apiserver counts on any one workload type")
	}
	return nil
}
