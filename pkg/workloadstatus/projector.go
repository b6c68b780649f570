// Package workloadstatus projects the state of the workload objects each release's chart created
// (KubeVirt machines, CDI disks, COSI buckets, Cluster API clusters) onto the release, where the
// apps.cozy.io object's status reads it (release.AnnotationWorkloads). It is a small controller:
// one watch per workload type, a queue of releases, and a conditional write to a release whose
// workloads' state changed. Every replica runs it; they compute the same state, and the writes are
// conditional on the release's resourceVersion, so replicas agree without a leader.
package workloadstatus

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// releaseIndex indexes workload objects by "namespace/release".
const releaseIndex = "release"

// discoveryInterval is how often workload types not served yet are looked for again: the server
// may start before KubeVirt's or Cluster API's CRDs are installed.
const discoveryInterval = 30 * time.Second

// Projector keeps every release's AnnotationWorkloads in step with its workload objects.
type Projector struct {
	kinds     []*release.Kind
	releases  dynamic.NamespaceableResourceInterface
	discovery discovery.DiscoveryInterface
	factory   dynamicinformer.DynamicSharedInformerFactory
	queue     workqueue.TypedRateLimitingInterface[string]

	mu        sync.RWMutex
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
}

// New builds a projector for the kinds' declared workload types.
func New(kinds []*release.Kind, client dynamic.Interface, disc discovery.DiscoveryInterface) *Projector {
	return &Projector{
		kinds:     kinds,
		releases:  client.Resource(release.HelmReleaseGVR),
		discovery: disc,
		factory:   dynamicinformer.NewDynamicSharedInformerFactory(client, 10*time.Minute),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "workload-status"}),
		informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{},
	}
}

// Run watches the workload types as they become served and projects until ctx ends.
func (p *Projector) Run(ctx context.Context, workers int) {
	logger := klog.FromContext(ctx).WithName("workload-status")
	ctx = klog.NewContext(ctx, logger)
	defer p.queue.ShutDown()
	go wait.UntilWithContext(ctx, p.watchServedTypes, discoveryInterval)
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, p.work, time.Second)
	}
	<-ctx.Done()
	p.factory.Shutdown()
}

// watchServedTypes starts a watch for every declared workload type kube-apiserver serves now.
func (p *Projector) watchServedTypes(ctx context.Context) {
	started := false
	for _, k := range p.kinds {
		for _, w := range k.Workloads {
			p.mu.RLock()
			_, watching := p.informers[w.Resource]
			p.mu.RUnlock()
			if watching || !p.served(w.Resource) {
				continue
			}
			informer := p.factory.ForResource(w.Resource).Informer()
			if err := informer.AddIndexers(cache.Indexers{releaseIndex: releaseKeys}); err != nil {
				klog.FromContext(ctx).Error(err, "Indexing workload objects", "resource", w.Resource)
				continue
			}
			enqueue := func(obj any) {
				if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = tomb.Obj
				}
				keys, _ := releaseKeys(obj)
				for _, key := range keys {
					p.queue.Add(key)
				}
			}
			if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
			}); err != nil {
				klog.FromContext(ctx).Error(err, "Watching workload objects", "resource", w.Resource)
				continue
			}
			p.mu.Lock()
			p.informers[w.Resource] = informer
			p.mu.Unlock()
			klog.FromContext(ctx).Info("Projecting workload status", "resource", w.Resource)
			started = true
		}
	}
	if started {
		p.factory.Start(ctx.Done())
	}
}

// served reports whether kube-apiserver serves the workload type.
func (p *Projector) served(gvr schema.GroupVersionResource) bool {
	list, err := p.discovery.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
	if err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == gvr.Resource {
			return true
		}
	}
	return false
}

// releaseKeys is the "namespace/release" of the release a workload object belongs to: Helm's
// annotation for what Helm created, the object's own name for what a controller created in turn
// under the release's name (KubeVirt's VirtualMachineInstance).
func releaseKeys(obj any) ([]string, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, nil
	}
	annotations := u.GetAnnotations()
	if name := annotations[release.HelmAnnotationReleaseName]; name != "" {
		if ns := annotations[release.HelmAnnotationReleaseNamespace]; ns != "" && ns != u.GetNamespace() {
			return nil, nil // a release installs into its own namespace only
		}
		return []string{u.GetNamespace() + "/" + name}, nil
	}
	return []string{u.GetNamespace() + "/" + u.GetName()}, nil
}

func (p *Projector) work(ctx context.Context) {
	for {
		key, quit := p.queue.Get()
		if quit {
			return
		}
		err := p.project(ctx, key)
		if err != nil {
			klog.FromContext(ctx).V(2).Info("Projecting workload status failed; retrying", "release", key, "err", err)
			p.queue.AddRateLimited(key)
		} else {
			p.queue.Forget(key)
		}
		p.queue.Done(key)
	}
}

// kindOf returns the kind whose releases are named like name (the longest matching prefix).
func (p *Projector) kindOf(name string) *release.Kind {
	var found *release.Kind
	for _, k := range p.kinds {
		if prefix := k.ReleaseLayout().ReleasePrefix; strings.HasPrefix(name, prefix) && k.ProjectWorkloads != nil && (found == nil || len(prefix) > len(found.ReleaseLayout().ReleasePrefix)) {
			found = k
		}
	}
	return found
}

// project recomputes one release's workload state and writes it if it changed.
func (p *Projector) project(ctx context.Context, key string) error {
	namespace, name, ok := strings.Cut(key, "/")
	kind := p.kindOf(name)
	if !ok || kind == nil {
		return nil
	}
	objects := release.Workloads{}
	seen := 0
	p.mu.RLock()
	for _, w := range kind.Workloads {
		informer, watching := p.informers[w.Resource]
		if !watching {
			continue
		}
		items, err := informer.GetIndexer().ByIndex(releaseIndex, key)
		if err != nil {
			p.mu.RUnlock()
			return err
		}
		for _, item := range items {
			if u, ok := item.(*unstructured.Unstructured); ok {
				objects[w.Resource] = append(objects[w.Resource], u)
				seen++
			}
		}
	}
	p.mu.RUnlock()

	hr, err := p.releases.Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading HelmRelease %s: %w", key, err)
	}
	if !kind.Owns(hr) {
		return nil
	}
	current, _ := release.ReadWorkloadState(hr)
	var desired *release.WorkloadState
	if seen > 0 {
		state := kind.ProjectWorkloads(objects)
		desired = &state
		desired.Since = time.Now().UTC().Format(time.RFC3339)
		if current != nil && current.Ready == desired.Ready && current.Since != "" {
			desired.Since = current.Since
		}
	}
	return p.write(ctx, hr, current, desired)
}

// write records desired on the release unless it is already there, on the revision read.
func (p *Projector) write(ctx context.Context, hr *unstructured.Unstructured, current, desired *release.WorkloadState) error {
	var value any
	if desired != nil {
		encoded, err := release.EncodeWorkloadState(desired)
		if err != nil {
			return err
		}
		if old, ok := hr.GetAnnotations()[release.AnnotationWorkloads]; ok && old == encoded {
			return nil
		}
		value = encoded
	} else if current == nil {
		if _, ok := hr.GetAnnotations()[release.AnnotationWorkloads]; !ok {
			return nil
		}
	}
	patch, err := mergePatch(hr.GetResourceVersion(), value)
	if err != nil {
		return err
	}
	_, err = p.releases.Namespace(hr.GetNamespace()).Patch(ctx, hr.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "cozy-apiserver-workload-status"})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("writing workload state of HelmRelease %s/%s: %w", hr.GetNamespace(), hr.GetName(), err)
	}
	klog.FromContext(ctx).V(2).Info("Workload state changed", "namespace", hr.GetNamespace(), "release", hr.GetName(), "ready", desired != nil && desired.Ready)
	return nil
}
