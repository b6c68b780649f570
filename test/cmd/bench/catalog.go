package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/test/framework"
)

// catalogApplications are the catalog definitions the benchmark serves; copies of redis under
// other names make the rest of the platform's 31 kinds.
var catalogApplications = []string{"postgres", "redis", "tenant", "kafka", "clickhouse", "mariadb", "mongodb", "nats", "rabbitmq", "vpn", "etcd", "info"}

const platformKinds = 31

// definedObjects is how many objects of one defined kind each batch of the memory row caches:
// enough that their heap (about 10 MiB) stands well above the heap's own drift between two
// measures (a few MiB).
const definedObjects = 5000

// discoverySamples is the least number of discovery GET pairs each discovery ratio is taken from.
const discoverySamples = 400

// catalog measures what serving the platform's whole catalog costs: a discovery GET through the
// aggregator with 31 kinds against 4, the upstream watches with 31 kinds, how soon a definition
// added or changed is served by every replica, and the live heap per cached object of a defined
// kind against its JSON.
func (b *bench) catalog(ctx context.Context) error {
	rc := b.cp.Kube.Discovery().RESTClient()
	get := func(path string) func(int) error {
		return func(int) error { return rc.Get().AbsPath(path).Do(ctx).Error() }
	}
	// Discovery of apps.cozy.io against Flux's, side by side (see samplePair), before and after.
	// A discovery GET takes about a millisecond: many pairs keep the two ratios' noise well below
	// the 20 % they are compared at.
	discoveryRatio := func() (float64, error) {
		cozy, direct, err := samplePair(max(b.cfg.samples, discoverySamples), get("/apis/apps.cozy.io/v1alpha1"), get("/apis/helm.toolkit.fluxcd.io/v2"))
		if err != nil {
			return 0, err
		}
		return percentile(cozy, 0.5) / percentile(direct, 0.5), nil
	}
	typedOnly, err := discoveryRatio()
	if err != nil {
		return err
	}
	watchesBefore, err := b.cp.UpstreamWatches(ctx, release.HelmReleaseGVR.GroupResource())
	if err != nil {
		return err
	}
	replica, err := b.cp.StartReplica(ctx, "bench-replica")
	if err != nil {
		return err
	}
	defer replica.Stop()
	replicas := []dynamic.Interface{b.cp.Dynamic}
	cfg, err := b.cp.ReplicaConfig(replica, "bench", "system:masters")
	if err != nil {
		return err
	}
	replicas = append(replicas, dynamic.NewForConfigOrDie(cfg))

	// Added: from the apply until every replica lists the new kind.
	var added []float64
	defs := []*unstructured.Unstructured{}
	for _, name := range catalogApplications {
		def, err := framework.Definition(name)
		if err != nil {
			return err
		}
		defs = append(defs, def)
	}
	redis, _ := framework.Definition("redis")
	for i := len(defs) + 4; i < platformKinds; i++ {
		def := redis.DeepCopy()
		plural := fmt.Sprintf("benchkinds%d", i)
		def.SetName(plural)
		_ = unstructured.SetNestedField(def.Object, fmt.Sprintf("BenchKind%d", i), "spec", "application", "kind")
		_ = unstructured.SetNestedField(def.Object, plural, "spec", "application", "plural")
		_ = unstructured.SetNestedField(def.Object, fmt.Sprintf("benchkind%d", i), "spec", "application", "singular")
		_ = unstructured.SetNestedField(def.Object, fmt.Sprintf("bench%d-", i), "spec", "release", "prefix")
		defs = append(defs, def)
	}
	ns := "bench-catalog"
	if err := b.cp.CreateNamespace(ctx, ns, "bench-catalog"); err != nil {
		return err
	}
	for _, def := range defs {
		plural, _, _ := unstructured.NestedString(def.Object, "spec", "application", "plural")
		start := time.Now()
		if _, err := b.cp.ApplyDefinition(ctx, def); err != nil {
			return err
		}
		if err := everyReplica(ctx, replicas, func(ctx context.Context, c dynamic.Interface) bool {
			_, err := c.Resource(gvr(plural)).Namespace(ns).List(ctx, metav1.ListOptions{Limit: 1})
			return err == nil
		}); err != nil {
			return fmt.Errorf("%s not served: %w", plural, err)
		}
		added = append(added, float64(time.Since(start).Milliseconds()))
	}

	// Changed: a tightened maximum, until every replica refuses a value above it.
	var changed []float64
	tightened := defs[len(defs)-1]
	plural, _, _ := unstructured.NestedString(tightened.Object, "spec", "application", "plural")
	kind, _, _ := unstructured.NestedString(tightened.Object, "spec", "application", "kind")
	for round := range 10 {
		maximum := int64(50 - round)
		raw, _, _ := unstructured.NestedString(tightened.Object, "spec", "application", "openAPISchema")
		var schemaDoc map[string]any
		if err := json.Unmarshal([]byte(raw), &schemaDoc); err != nil {
			return err
		}
		schemaDoc["properties"].(map[string]any)["replicas"].(map[string]any)["maximum"] = maximum
		out, _ := json.Marshal(schemaDoc)
		_ = unstructured.SetNestedField(tightened.Object, string(out), "spec", "application", "openAPISchema")
		start := time.Now()
		if _, err := b.cp.ApplyDefinition(ctx, tightened); err != nil {
			return err
		}
		over := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps.cozy.io/v1alpha1", "kind": kind,
			"metadata": map[string]any{"name": "over"}, "spec": map[string]any{"replicas": maximum + 1}}}
		if err := everyReplica(ctx, replicas, func(ctx context.Context, c dynamic.Interface) bool {
			_, err := c.Resource(gvr(plural)).Namespace(ns).Create(ctx, over, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err != nil
		}); err != nil {
			return fmt.Errorf("the tightened schema of %s not served: %w", plural, err)
		}
		changed = append(changed, float64(time.Since(start).Milliseconds()))
	}
	b.rep.add("definition added → served by 2 replicas p50", "ms", percentile(added, 0.5), 0, fmt.Sprintf("max %.0f ms over %d definitions (target ≤ 5 s)", maxOf(added), len(added)))
	b.rep.add("definition changed → served by 2 replicas p50", "ms", percentile(changed, 0.5), 0, fmt.Sprintf("max %.0f ms over %d changes (target ≤ 5 s)", maxOf(changed), len(changed)))

	withCatalog, err := discoveryRatio()
	if err != nil {
		return err
	}
	kindsBefore, kindsAfter := len(b.kinds), len(b.kinds)+len(defs)
	b.rep.add(fmt.Sprintf("discovery GET / Flux's, %d kinds vs %d", kindsAfter, kindsBefore), "x", withCatalog, typedOnly, "through the aggregator, p50s side by side (target ratio ≤ 1.2)")
	watchesAfter, err := b.cp.UpstreamWatches(ctx, release.HelmReleaseGVR.GroupResource())
	if err != nil {
		return err
	}
	b.rep.add(fmt.Sprintf("upstream HelmRelease watches, %d kinds vs %d", kindsAfter, kindsBefore), "", float64(watchesAfter), float64(watchesBefore), "one more server replica runs during the catalog rows: +1 expected")
	return b.definedKindMemory(ctx, ns)
}

// definedKindMemory reports the live heap a cached object of a defined kind costs against its
// JSON, as the slope between two batches of definedObjects Postgreses: what the first batch
// brings besides its objects (the kind's OpenAPI built on first use, caches warmed by the first
// requests) is not counted against the second.
func (b *bench) definedKindMemory(ctx context.Context, ns string) error {
	postgres := b.cp.Dynamic.Resource(gvr("postgreses")).Namespace(ns)
	batch := func(from int) (float64, error) {
		if err := createInParallel(b.cfg.concurrency, definedObjects, func(i int) error {
			obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps.cozy.io/v1alpha1", "kind": "Postgres",
				"metadata": map[string]any{"name": fmt.Sprintf("pg-%d", from+i)}, "spec": map[string]any{"replicas": int64(2)}}}
			_, err := postgres.Create(ctx, obj, metav1.CreateOptions{})
			return err
		}); err != nil {
			return 0, err
		}
		list, err := postgres.List(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, err
		}
		return jsonSize(list), nil
	}
	firstJSON, err := batch(0)
	if err != nil {
		return err
	}
	// The OpenAPI documents of the catalog's kinds are built on first request (kube-apiserver's
	// aggregator asks every minute): asked for now, so they are not built between the measures.
	for _, path := range []string{"/openapi/v2", "/openapi/v3", "/openapi/v3/apis/apps.cozy.io/v1alpha1"} {
		resp, err := b.serverGet(ctx, path, time.Minute)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	first, err := b.settledMemory(ctx)
	if err != nil {
		return err
	}
	bothJSON, err := batch(definedObjects)
	if err != nil {
		return err
	}
	second, err := b.settledMemory(ctx)
	if err != nil {
		return err
	}
	added := bothJSON - firstJSON
	b.rep.add("live heap growth / JSON, a defined kind", "x", (second.live-first.live)/added, 0,
		fmt.Sprintf("the second %d Postgreses, %.1f MiB of JSON (target 2)", definedObjects, added/(1<<20)))
	if b.cfg.profileDir != "" {
		// Beside heap.pb.gz (taken before the catalog rows): pprof -base shows what they added.
		path := filepath.Join(b.cfg.profileDir, "heap-defined.pb.gz")
		if err := b.fetchProfile(ctx, "/debug/pprof/heap?gc=1", path); err != nil {
			return err
		}
		fmt.Printf("  heap profile with the defined kind's objects written to %s\n", path)
	}
	return b.cachedDefinedObjects(ctx, ns)
}

// settledMemory is the least of three measures of the server's memory: what it retains, without
// what happened to be in flight at one of them.
func (b *bench) settledMemory(ctx context.Context) (serverMemory, error) {
	var least serverMemory
	for i := range 3 {
		m, err := b.measureMemory(ctx)
		if err != nil {
			return m, err
		}
		if i == 0 || m.live < least.live {
			least = m
		}
	}
	return least, nil
}

// createInParallel runs create(0..n-1) from workers goroutines and returns the first error.
func createInParallel(workers, n int, create func(i int) error) error {
	next := make(chan int)
	errs := make(chan error, workers)
	for range workers {
		go func() {
			var first error
			for i := range next {
				if err := create(i); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// everyReplica polls cond on every replica every 10 ms until it holds on all, for 30 s at most.
func everyReplica(ctx context.Context, replicas []dynamic.Interface, cond func(context.Context, dynamic.Interface) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, c := range replicas {
		for !cond(ctx, c) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

func gvr(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "apps.cozy.io", Version: "v1alpha1", Resource: resource}
}

func maxOf(values []float64) float64 {
	sorted := append([]float64{}, values...)
	sort.Float64s(sorted)
	return sorted[len(sorted)-1]
}
