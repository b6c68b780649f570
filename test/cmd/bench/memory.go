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
	"k8s.io/client-go/rest"
)

// serverMemory returns the server process's resident set and Go heap in use, in bytes.
func (b *bench) serverMemory(ctx context.Context) ([2]float64, error) {
	var out [2]float64
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.cp.Server.PID()))
	if err != nil {
		return out, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmRSS:"), "kB")), &kb)
			out[0] = kb * 1024
		}
	}
	resp, err := b.serverGet(ctx, "/metrics", time.Minute)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		if line := scanner.Text(); strings.HasPrefix(line, "go_memstats_heap_inuse_bytes ") {
			fmt.Sscan(strings.TrimPrefix(line, "go_memstats_heap_inuse_bytes "), &out[1])
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return out, scanner.Err()
}

// memory reports the server's memory against the serialized size of what it caches: every object
// of every kind as JSON.
func (b *bench) memory(baseline [2]float64, when string) func(context.Context) error {
	return func(ctx context.Context) error {
		mem, err := b.serverMemory(ctx)
		if err != nil {
			return err
		}
		var serialized, count float64
		for _, kc := range kindCases {
			list, err := b.cozy(kc).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
			if err != nil {
				return err
			}
			for _, item := range list.Items {
				raw, _ := json.Marshal(item.Object)
				serialized += float64(len(raw))
				count++
			}
		}
		heapGrowth := mem[1] - baseline[1]
		b.rep.add("server RSS "+when, "MiB", mem[0]/(1<<20), 0, "")
		b.rep.add("server heap in use "+when, "MiB", mem[1]/(1<<20), 0, fmt.Sprintf("%.1f MiB before seeding", baseline[1]/(1<<20)))
		b.rep.add("heap growth per cached object "+when, "KiB", heapGrowth/count/1024, 0, fmt.Sprintf("%.0f objects", count))
		b.rep.add("heap growth / serialized size "+when, "x", heapGrowth/serialized, 0, fmt.Sprintf("%.1f MiB of JSON cached", serialized/(1<<20)))
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
