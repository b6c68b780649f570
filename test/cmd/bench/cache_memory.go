package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/releasecache"
	"github.com/cozystack/apps-apiserver/test/framework"
)

// cachedDefinedObjects loads the Postgres releases of ns into a cache of the server's own kind
// in this process and reports the heap the cache holds per object against the object's JSON:
// the cache's cost alone, free of what else moves in the server's heap between two measures.
func (b *bench) cachedDefinedObjects(ctx context.Context, ns string) error {
	def, err := framework.Definition("postgres")
	if err != nil {
		return err
	}
	decoded, err := kinds.DecodeApplicationDefinition(def)
	if err != nil {
		return err
	}
	defined, err := kinds.FromDefinition(decoded)
	if err != nil {
		return err
	}
	k := defined.Kind
	releases, err := b.cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: k.ReleaseSelector()})
	if err != nil {
		return err
	}
	raw, err := releases.MarshalJSON()
	if err != nil {
		return err
	}
	var serialized float64
	for i := range releases.Items {
		obj, err := k.ToObject(appsv1alpha1.SchemeGroupVersion, &releases.Items[i])
		if err != nil {
			return err
		}
		out, _ := json.Marshal(obj)
		serialized += float64(len(out))
	}
	count := len(releases.Items)
	releases = nil

	lw := listOnly{&cache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (kruntime.Object, error) {
			list := &unstructured.UnstructuredList{}
			return list, list.UnmarshalJSON(raw)
		},
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil },
	}}
	// kube-apiserver and etcd share this process and their heap moves too: the cache is built,
	// dropped and built again, and the median of the three differences is reported.
	build := func() (*releasecache.Cache, context.CancelFunc, error) {
		c := releasecache.New(func(hr *unstructured.Unstructured) (string, kruntime.Object, bool) {
			obj, err := k.ToObject(appsv1alpha1.SchemeGroupVersion, hr)
			return k.Kind, obj, err == nil
		}, 1000, time.Minute)
		runCtx, stop := context.WithCancel(ctx)
		go c.Run(runCtx, lw)
		if err := c.AwaitSynced(ctx); err != nil {
			stop()
			return nil, nil, err
		}
		if objects, _ := c.List(k.Kind, ns); len(objects) != count {
			stop()
			return nil, nil, fmt.Errorf("the cache holds %d of %d Postgreses", len(objects), count)
		}
		return c, stop, nil
	}
	before := liveHeap()
	c, stop, err := build()
	if err != nil {
		return err
	}
	built := liveHeap()
	runtime.KeepAlive(c)
	stop()
	c = nil
	dropped := liveHeap()
	c, stop, err = build()
	if err != nil {
		return err
	}
	defer stop()
	rebuilt := liveHeap()
	runtime.KeepAlive(c)
	differences := []float64{built - before, built - dropped, rebuilt - dropped}
	b.rep.add("cache heap / JSON, a defined kind", "x", percentile(differences, 0.5)/serialized, 0,
		fmt.Sprintf("%d Postgreses cached in this process, %.1f MiB of JSON (target 2); the median of a build, a drop and a build", count, serialized/(1<<20)))
	return nil
}

// liveHeap is this process's heap after a collection.
func liveHeap() float64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return float64(stats.HeapAlloc)
}

// listOnly has the reflector list rather than stream the initial state through its watch (which
// sends nothing here).
type listOnly struct{ *cache.ListWatch }

// IsWatchListSemanticsUnSupported tells the reflector to list.
func (listOnly) IsWatchListSemanticsUnSupported() bool { return true }
