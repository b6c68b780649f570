package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/test/framework"
)

type bench struct {
	cp  *framework.ControlPlane
	cfg config
	rep *report
	// kinds are the kinds objects are seeded over: the typed ones, then those --kinds defines.
	kinds []kindCase
}

// kindCase is one kind with its example spec (artifacts/examples: realistic sizes).
type kindCase struct {
	kind, resource, prefix, applicationKind string
	example                                 *unstructured.Unstructured
}

// releaseSelector selects the kind's HelmReleases in kube-apiserver.
func (kc kindCase) releaseSelector() string {
	return release.LabelApplicationKind + "=" + kc.applicationKind
}

// typedKindCases are the typed kinds in the order kinds.All gives.
var typedKindCases = func() []kindCase {
	_, file, _, _ := runtime.Caller(0)
	examples := filepath.Join(filepath.Dir(file), "..", "..", "..", "artifacts", "examples")
	var out []kindCase
	for _, k := range kinds.All() {
		raw, err := os.ReadFile(filepath.Join(examples, strings.ToLower(k.Kind)+".yaml"))
		if err != nil {
			panic(err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(raw, &obj.Object); err != nil {
			panic(err)
		}
		out = append(out, kindCase{kind: k.Kind, resource: k.Resource, prefix: k.Layout.ReleasePrefix, applicationKind: k.ApplicationKind, example: obj})
	}
	return out
}()

// caseOf returns the kind measured alone by the single-kind measures.
func caseOf(kind string) kindCase {
	for _, kc := range typedKindCases {
		if kc.kind == kind {
			return kc
		}
	}
	panic("no kind " + kind)
}

func (b *bench) cozy(kc kindCase) dynamic.NamespaceableResourceInterface {
	return b.cp.Dynamic.Resource(appsv1alpha1.SchemeGroupVersion.WithResource(kc.resource))
}

func (b *bench) direct() dynamic.NamespaceableResourceInterface {
	return b.cp.Dynamic.Resource(release.HelmReleaseGVR)
}

func namespace(i, n int) string { return fmt.Sprintf("bench-tenant-%03d", i%n) }

// object i of the seed: kinds alternate, namespaces round-robin.
func (b *bench) object(i int) (kindCase, string, string) {
	kc := b.kinds[i%len(b.kinds)]
	return kc, namespace(i/len(b.kinds), b.cfg.namespaces), fmt.Sprintf("app-%05d", i)
}

func (b *bench) seed(ctx context.Context) error {
	for i := 0; i < b.cfg.namespaces; i++ {
		if err := b.cp.CreateNamespace(ctx, namespace(i, b.cfg.namespaces), fmt.Sprint("t", i)); err != nil {
			return err
		}
	}
	for _, ns := range []string{"bench-writes", "bench-watch"} {
		if err := b.cp.CreateNamespace(ctx, ns, ns); err != nil {
			return err
		}
	}
	fmt.Printf("Seeding %d objects in %d namespaces with %d workers...\n", b.cfg.objects, b.cfg.namespaces, b.cfg.concurrency)
	start := time.Now()
	var next, done atomic.Int64
	errs := make(chan error, b.cfg.concurrency)
	var wg sync.WaitGroup
	for w := 0; w < b.cfg.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.cfg.objects {
					return
				}
				kc, ns, name := b.object(i)
				obj := kc.example.DeepCopy()
				obj.SetName(name)
				if _, err := b.cozy(kc).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("seeding %s/%s: %w", ns, name, err)
					return
				}
				if n := done.Add(1); n%1000 == 0 {
					fmt.Printf("  %d/%d (%.0f/s)\n", n, b.cfg.objects, float64(n)/time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("Seeded in %v\n", time.Since(start).Round(time.Second))
	return nil
}

func (b *bench) gets(ctx context.Context) error {
	return b.compareGets(ctx, "GET", b.cozy, b.rep.requestLatencies)
}

// compareGets samples GETs of random seeded objects through cozy and the same releases straight
// from kube-apiserver, and records the latencies with record.
func (b *bench) compareGets(ctx context.Context, name string, cozy func(kindCase) dynamic.NamespaceableResourceInterface, record func(name string, cozy, direct []float64)) error {
	// Both paths read the same objects, in the same order.
	rng := rand.New(rand.NewSource(1))
	picks := make([]int, b.cfg.samples)
	for i := range picks {
		picks[i] = rng.Intn(b.cfg.objects)
	}
	through, direct, err := samplePair(b.cfg.samples, func(i int) error {
		kc, ns, name := b.object(picks[i])
		_, err := cozy(kc).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	}, func(i int) error {
		kc, ns, name := b.object(picks[i])
		_, err := b.direct().Namespace(ns).Get(ctx, kc.prefix+name, metav1.GetOptions{})
		return err
	})
	if err != nil {
		return err
	}
	record(name, through, direct)
	return nil
}

func (b *bench) lists(ctx context.Context) error {
	kc := caseOf("Bucket")
	selector := metav1.ListOptions{LabelSelector: kc.releaseSelector()}
	for _, c := range []struct {
		name    string
		ns      func(i int) string
		samples int
	}{
		{"LIST one namespace", func(i int) string { return namespace(i, b.cfg.namespaces) }, b.cfg.samples},
		{"LIST all namespaces", func(int) string { return "" }, max(5, b.cfg.samples/30)},
	} {
		cozy, direct, err := samplePair(c.samples, func(i int) error {
			_, err := b.cozy(kc).Namespace(c.ns(i)).List(ctx, metav1.ListOptions{})
			return err
		}, func(i int) error {
			_, err := b.direct().Namespace(c.ns(i)).List(ctx, selector)
			return err
		})
		if err != nil {
			return err
		}
		b.rep.requestLatencies(c.name+" (Buckets)", cozy, direct)
	}
	return nil
}

func (b *bench) writes(ctx context.Context) error {
	kc := caseOf("Bucket")
	n := max(20, b.cfg.samples/3)
	newObject := func(name string) *unstructured.Unstructured {
		obj := kc.example.DeepCopy()
		obj.SetName(name)
		return obj
	}
	cozyClient, directClient := b.cozy(kc).Namespace("bench-writes"), b.direct().Namespace("bench-writes")

	cozyCreate, directCreate, err := samplePair(n, func(i int) error {
		_, err := cozyClient.Create(ctx, newObject(fmt.Sprint("c-", i)), metav1.CreateOptions{})
		return err
	}, func(i int) error {
		hr, err := newRelease(kc, fmt.Sprint("d-", i))
		if err == nil {
			_, err = directClient.Create(ctx, hr, metav1.CreateOptions{})
		}
		return err
	})
	if err != nil {
		return err
	}
	cozyUpdate, directUpdate, err := samplePair(n, func(i int) error {
		_, err := cozyClient.Patch(ctx, fmt.Sprint("c-", i), types.MergePatchType, labelPatch(i), metav1.PatchOptions{})
		return err
	}, func(i int) error {
		_, err := directClient.Patch(ctx, kc.prefix+fmt.Sprint("d-", i), types.MergePatchType, labelPatch(i), metav1.PatchOptions{})
		return err
	})
	if err != nil {
		return err
	}
	cozyDelete, directDelete, err := samplePair(n, func(i int) error {
		return cozyClient.Delete(ctx, fmt.Sprint("c-", i), metav1.DeleteOptions{})
	}, func(i int) error {
		return directClient.Delete(ctx, kc.prefix+fmt.Sprint("d-", i), metav1.DeleteOptions{})
	})
	if err != nil {
		return err
	}
	b.rep.requestLatencies("create", cozyCreate, directCreate)
	b.rep.requestLatencies("update (merge patch)", cozyUpdate, directUpdate)
	b.rep.requestLatencies("delete", cozyDelete, directDelete)
	return nil
}

// labelPatch is the i-th update of the write rows: a merge patch of one label.
func labelPatch(i int) []byte { return []byte(fmt.Sprintf(`{"metadata":{"labels":{"seq":"%d"}}}`, i)) }

// newRelease is the HelmRelease apps.cozy.io would write for the kind's example named name in
// bench-writes: what the direct path creates.
func newRelease(kc kindCase, name string) (*unstructured.Unstructured, error) {
	kind := kinds.ByName(kc.kind)
	obj := kc.example.DeepCopy()
	obj.SetName(name)
	typed := kind.New()
	if err := runtimeConvert(obj, typed); err != nil {
		return nil, err
	}
	hr := kind.NewRelease("bench-writes", name)
	return hr, kind.ApplyTo(typed, hr)
}

func (b *bench) aggregatorToll(ctx context.Context) error {
	rc := b.cp.Kube.Discovery().RESTClient()
	get := func(path string) func(int) error {
		return func(int) error { return rc.Get().AbsPath(path).Do(ctx).Error() }
	}
	cozy, direct, err := samplePair(b.cfg.samples, get("/apis/apps.cozy.io/v1alpha1"), get("/apis/helm.toolkit.fluxcd.io/v2"))
	if err != nil {
		return err
	}
	b.rep.AggregatorTollMs = max(0, percentile(cozy, 0.5)-percentile(direct, 0.5))
	b.rep.add("aggregator toll: discovery GET p50", "ms", percentile(cozy, 0.5), percentile(direct, 0.5), "the floor of a request through the aggregator is the direct one plus the difference")
	return nil
}
