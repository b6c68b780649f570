package framework

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/controller-manager/pkg/informerfactory"
	"k8s.io/kubernetes/pkg/controller/garbagecollector"
)

// gcSyncPeriod is how often the garbage collector looks for new resource types (apps.cozy.io's
// appear once the APIService is available).
const gcSyncPeriod = 5 * time.Second

// startGarbageCollector runs kube-controller-manager's garbage collector in this process, as a
// cluster does: owner references between apps.cozy.io objects and other objects are honoured both
// ways, through this server's metadata-only lists and watches.
func (cp *ControlPlane) startGarbageCollector(ctx context.Context) error {
	meta, err := metadata.NewForConfig(cp.Config)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cp.Kube.Discovery()))
	started := make(chan struct{})
	close(started)
	gc, err := garbagecollector.NewGarbageCollector(ctx, cp.Kube, meta, mapper, garbagecollector.DefaultIgnoredResources(),
		informerfactory.NewInformerFactory(informers.NewSharedInformerFactory(cp.Kube, 0), metadatainformer.NewSharedInformerFactory(meta, 0)), started)
	if err != nil {
		return err
	}
	go wait.Until(mapper.Reset, gcSyncPeriod, ctx.Done())
	go gc.Run(ctx, 2, gcSyncPeriod)
	go gc.Sync(ctx, cp.Kube.Discovery(), gcSyncPeriod)
	return nil
}
