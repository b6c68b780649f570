package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
)

// serverMemory is the server process's memory at one moment.
type serverMemory struct {
	// rss is the resident set, from /proc.
	rss float64
	// heapInUse is the Go heap in use as the server runs: live objects plus garbage not yet
	// collected (up to GOGC's 100 % more).
	heapInUse float64
	// live is the heap allocated right after a forced collection: what the server retains.
	live float64
}

// measureMemory reads the server's memory: the heap as it is, then the heap after a collection
// (asking /debug/pprof/heap?gc=1, which runs one).
func (b *bench) measureMemory(ctx context.Context) (serverMemory, error) {
	var out serverMemory
	var err error
	if out.rss, err = b.serverProcessBytes("VmRSS"); err != nil {
		return out, err
	}
	if out.heapInUse, err = b.serverMetric(ctx, "go_memstats_heap_inuse_bytes"); err != nil {
		return out, err
	}
	resp, err := b.serverGet(ctx, "/debug/pprof/heap?gc=1", time.Minute)
	if err != nil {
		return out, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	out.live, err = b.serverMetric(ctx, "go_memstats_heap_alloc_bytes")
	return out, err
}

// serverProcessBytes reads one of the server process's memory sizes from /proc/<pid>/status:
// VmRSS (resident now) or VmHWM (the most it has been resident).
func (b *bench) serverProcessBytes(field string) (float64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.cp.Server.PID()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if value, ok := strings.CutPrefix(line, field+":"); ok {
			var kb float64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(value, "kB")), &kb); err != nil {
				return 0, fmt.Errorf("%s in /proc status: %w", field, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s in the server's /proc status", field)
}

// serverMetric reads one unlabelled gauge from the server's /metrics.
func (b *bench) serverMetric(ctx context.Context, name string) (float64, error) {
	resp, err := b.serverGet(ctx, "/metrics", time.Minute)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	var value float64
	found := false
	for scanner.Scan() {
		if line := scanner.Text(); strings.HasPrefix(line, name+" ") {
			_, err = fmt.Sscan(strings.TrimPrefix(line, name+" "), &value)
			found = err == nil
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if err := scanner.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("metric %s not found on the server", name)
	}
	return value, nil
}

// memory reports the server's memory against the serialized size of what it caches: every object
// of every kind as JSON. The target is on what the server retains (after a collection); the heap
// as the server runs is shown beside it.
func (b *bench) memory(baseline serverMemory, when string) func(context.Context) error {
	return func(ctx context.Context) error {
		mem, err := b.measureMemory(ctx)
		if err != nil {
			return err
		}
		var serialized, count float64
		for _, kc := range b.kinds {
			list, err := b.cozy(kc).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
			if err != nil {
				return err
			}
			serialized += jsonSize(list)
			count += float64(len(list.Items))
		}
		logEvents, err := b.serverMetric(ctx, "cozy_apiserver_watch_event_log_events")
		if err != nil {
			return err
		}
		logBytes, err := b.serverMetric(ctx, "cozy_apiserver_watch_event_log_retained_bytes")
		if err != nil {
			return err
		}
		growth := mem.live - baseline.live
		b.rep.add("server RSS "+when, "MiB", mem.rss/(1<<20), 0, "")
		b.rep.add("server heap in use "+when, "MiB", mem.heapInUse/(1<<20), 0,
			fmt.Sprintf("%.1f MiB before seeding; garbage included", baseline.heapInUse/(1<<20)))
		b.rep.add("server live heap "+when, "MiB", mem.live/(1<<20), 0,
			fmt.Sprintf("%.1f MiB before seeding; after a collection", baseline.live/(1<<20)))
		b.rep.add("watch event log "+when, "MiB", logBytes/(1<<20), 0,
			fmt.Sprintf("%.0f events; estimated old versions only the log keeps (--watch-event-log-bytes)", logEvents))
		b.rep.add("live heap growth per cached object "+when, "KiB", growth/count/1024, 0, fmt.Sprintf("%.0f objects", count))
		b.rep.add("live heap growth / serialized size "+when, "x", growth/serialized, 0,
			fmt.Sprintf("%.1f MiB of JSON cached (target 2); heap in use: %.2f x", serialized/(1<<20), (mem.heapInUse-baseline.heapInUse)/serialized))
		return nil
	}
}

// serverGet sends a GET straight to the server as an admin (its /metrics, /debug/pprof).
func (b *bench) serverGet(ctx context.Context, path string, timeout time.Duration) (*http.Response, error) {
	cfg, err := b.cp.ReplicaConfig(b.cp.Server, "bench", "system:masters")
	if err != nil {
		return nil, err
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	client.Timeout = timeout
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.cp.Server.URL()+path, nil)
	if err != nil {
		return nil, err
	}
	return client.Do(req)
}

// jsonSize is the bytes of a list's items as JSON: what the server caches of them, as the memory
// rows compare it with the heap.
func jsonSize(list *unstructured.UnstructuredList) float64 {
	var size float64
	for _, item := range list.Items {
		raw, _ := json.Marshal(item.Object)
		size += float64(len(raw))
	}
	return size
}
