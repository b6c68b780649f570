package framework

import (
	"context"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/metadata"
	namespacecontroller "k8s.io/kubernetes/pkg/controller/namespace"
)

// startNamespaceController runs kube-controller-manager's namespace controller in this process,
// as a cluster does: deleting a namespace deletes everything in it, apps.cozy.io objects included
// (through this server's discovery, metadata-only lists and deletecollection), and the namespace
// is gone only once that finished.
func (cp *ControlPlane) startNamespaceController(ctx context.Context) error {
	meta, err := metadata.NewForConfig(cp.Config)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(cp.Kube, 0)
	controller := namespacecontroller.NewNamespaceController(ctx, cp.Kube, meta,
		cp.Kube.Discovery().ServerPreferredNamespacedResources, factory.Core().V1().Namespaces(),
		5*time.Minute, v1.FinalizerKubernetes)
	factory.Start(ctx.Done())
	go controller.Run(ctx, 2)
	return nil
}
