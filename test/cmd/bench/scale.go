package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/test/framework"
)

// scaleApplications are the catalog definitions the kinds beyond the typed ones are copies of,
// in turn (not Tenant: its objects' names may not hold '-', nor info, a singleton in the platform).
var scaleApplications = []string{"postgres", "redis", "kafka", "clickhouse", "mariadb", "mongodb", "nats", "rabbitmq", "vpn", "etcd"}

// defineScaleKinds serves --kinds kinds: the typed ones and copies of catalog definitions under
// names of their own (Scale5Postgres, ...; the catalog rows still add theirs anew), each seeded
// with empty specs (the schema's defaults), so the seeded objects spread over every kind.
func (b *bench) defineScaleKinds(ctx context.Context) error {
	for i := len(b.kinds); i < b.cfg.kinds; i++ {
		def, err := framework.Definition(scaleApplications[i%len(scaleApplications)])
		if err != nil {
			return err
		}
		original, _, _ := unstructured.NestedString(def.Object, "spec", "application", "kind")
		kind := fmt.Sprintf("Scale%d%s", i, original)
		plural := strings.ToLower(kind) + "s"
		prefix := fmt.Sprintf("scale%d-", i)
		def.SetName(plural)
		for field, value := range map[string]string{"kind": kind, "plural": plural, "singular": strings.ToLower(kind)} {
			_ = unstructured.SetNestedField(def.Object, value, "spec", "application", field)
		}
		_ = unstructured.SetNestedField(def.Object, prefix, "spec", "release", "prefix")
		if _, err := b.cp.ApplyDefinition(ctx, def); err != nil {
			return err
		}
		if err := everyReplica(ctx, []dynamic.Interface{b.cp.Dynamic}, func(ctx context.Context, c dynamic.Interface) bool {
			_, err := c.Resource(gvr(plural)).List(ctx, metav1.ListOptions{Limit: 1})
			return err == nil
		}); err != nil {
			return fmt.Errorf("%s not served: %w", plural, err)
		}
		example := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps.cozy.io/v1alpha1", "kind": kind, "metadata": map[string]any{}, "spec": map[string]any{}}}
		b.kinds = append(b.kinds, kindCase{kind: kind, resource: plural, prefix: prefix, applicationKind: kind, example: example})
	}
	return nil
}

// restart measures how soon the server is ready again after a restart (its cache listed and
// decoded, the catalog served) against a plain client-go informer listing and decoding the same
// HelmReleases in this process.
func (b *bench) restart(ctx context.Context) error {
	informer := dynamicinformer.NewFilteredDynamicInformer(b.cp.Dynamic, release.HelmReleaseGVR, "", 0, cache.Indexers{}, nil).Informer()
	stop := make(chan struct{})
	start := time.Now()
	go informer.Run(stop)
	synced := cache.WaitForCacheSync(ctx.Done(), informer.HasSynced)
	informerTime := time.Since(start)
	releases := len(informer.GetStore().ListKeys())
	close(stop)
	if !synced {
		return fmt.Errorf("the informer did not sync")
	}
	// From the start of the new process, not the old one's shutdown, until it is ready.
	b.cp.Server.Kill()
	start = time.Now()
	if err := b.cp.Server.StartAgain(ctx); err != nil {
		return err
	}
	restartTime := time.Since(start)
	// The aggregator marks the APIService available again on its next check; later rows go
	// through it.
	if err := everyReplica(ctx, []dynamic.Interface{b.cp.Dynamic}, func(ctx context.Context, c dynamic.Interface) bool {
		_, err := b.cozy(b.kinds[0]).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil
	}); err != nil {
		return fmt.Errorf("the restarted server not served through the aggregator: %w", err)
	}
	b.rep.add("ready after a restart", "s", restartTime.Seconds(), informerTime.Seconds(),
		fmt.Sprintf("direct: a client-go informer listing the same %d HelmReleases of %d kinds (target ratio ≤ 2)", releases, len(b.kinds)))
	// The start decodes every release at once: what a deployment's memory limit must allow.
	peak, err := b.serverProcessBytes("VmHWM")
	if err != nil {
		return err
	}
	b.rep.add("server peak RSS, started on the releases", "MiB", peak/(1<<20), 0,
		fmt.Sprintf("the new process's high-water mark: %.1f KiB per release", peak/1024/float64(releases)))
	return nil
}
