package framework

import (
	"context"
	"time"

	"k8s.io/apiserver/pkg/quota/v1/generic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/controller-manager/pkg/informerfactory"
	"k8s.io/kubernetes/pkg/controller"
	resourcequotacontroller "k8s.io/kubernetes/pkg/controller/resourcequota"
	quotainstall "k8s.io/kubernetes/pkg/quota/v1/install"
)

// quotaSyncPeriod is how often the quota controller recounts everything and looks for new
// resource types (apps.cozy.io's appear once the APIService is available); kube-controller-manager
// uses 5 minutes and 30 seconds.
const quotaSyncPeriod = 5 * time.Second

// startResourceQuotaController runs kube-controller-manager's resource quota controller in this
// process, built as kube-controller-manager builds it: it fills each ResourceQuota's status
// (hard and used), counting apps.cozy.io objects through this server's metadata-only lists and
// watches, so the server's quota admission has the usage to check against.
func (cp *ControlPlane) startResourceQuotaController(ctx context.Context) error {
	meta, err := metadata.NewForConfig(cp.Config)
	if err != nil {
		return err
	}
	typed := informers.NewSharedInformerFactory(cp.Kube, 0)
	objectOrMetadata := informerfactory.NewInformerFactory(typed, metadatainformer.NewSharedInformerFactory(meta, 0))
	configuration, err := quotainstall.NewQuotaConfigurationForControllers(generic.ListerFuncForResourceFunc(typed.ForResource), typed)
	if err != nil {
		return err
	}
	started := make(chan struct{})
	discoveryFunc := cp.Kube.Discovery().ServerPreferredNamespacedResources
	quotaController, err := resourcequotacontroller.NewController(ctx, &resourcequotacontroller.ControllerOptions{
		QuotaClient:               cp.Kube.CoreV1(),
		ResourceQuotaInformer:     typed.Core().V1().ResourceQuotas(),
		ResyncPeriod:              controller.StaticResyncPeriodFunc(quotaSyncPeriod),
		InformerFactory:           objectOrMetadata,
		ReplenishmentResyncPeriod: controller.StaticResyncPeriodFunc(5 * time.Minute),
		DiscoveryFunc:             discoveryFunc,
		IgnoredResourcesFunc:      configuration.IgnoredResources,
		InformersStarted:          started,
		Registry:                  generic.NewRegistry(configuration.Evaluators()),
		UpdateFilter:              quotainstall.DefaultUpdateFilter(),
	})
	if err != nil {
		return err
	}
	// As kube-controller-manager: informers start once every controller asked for its own.
	objectOrMetadata.Start(ctx.Done())
	close(started)
	go quotaController.Run(ctx, 2)
	go quotaController.Sync(ctx, discoveryFunc, quotaSyncPeriod)
	return nil
}
