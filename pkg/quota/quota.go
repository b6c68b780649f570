// Package quota enforces ordinary ResourceQuotas on apps.cozy.io objects: a quota with
// `count/buckets.apps.cozy.io: 3` in a tenant namespace limits that tenant to three Buckets.
// Enforcement is kube-apiserver's own ResourceQuota admission plugin (k8s.io/apiserver), run in
// this server's admission chain; the quota's status.used is kept by kube-controller-manager's quota
// controller, which counts these kinds through this server's lists and watches as it does any
// listable resource.
package quota

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	admissioninitializer "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/admission/plugin/resourcequota"
	quotav1 "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"
	"k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
)

// PluginName is the admission plugin's name, as in kube-apiserver's --enable-admission-plugins.
const PluginName = resourcequota.PluginName

// AddAdmission registers the ResourceQuota admission plugin in the options, on by default and
// last in the chain (as in kube-apiserver: after webhooks and policies, so only requests that
// would be admitted are counted), and gives it an object count evaluator for each resource.
// --disable-admission-plugins=ResourceQuota turns it off.
func AddAdmission(o *genericoptions.RecommendedOptions, resources []schema.GroupResource) {
	resourcequota.Register(o.Admission.Plugins)
	o.Admission.RecommendedPluginOrder = append(o.Admission.RecommendedPluginOrder, PluginName)
	configuration := Configuration(resources)
	previous := o.ExtraAdmissionInitializers
	o.ExtraAdmissionInitializers = func(c *server.RecommendedConfig) ([]admission.PluginInitializer, error) {
		initializers, err := previous(c)
		if err != nil {
			return nil, err
		}
		return append(initializers, configurationInitializer{configuration}), nil
	}
}

// Configuration counts objects of each resource (`count/<resource>.<group>`). Admission only
// needs the change a request makes, so the evaluators list nothing: the current usage is the
// quota's status, which the quota controller computes.
func Configuration(resources []schema.GroupResource) quotav1.Configuration {
	evaluators := make([]quotav1.Evaluator, 0, len(resources))
	for _, gr := range resources {
		evaluators = append(evaluators, generic.NewObjectCountEvaluator(gr, nil, ""))
	}
	return generic.NewConfiguration(evaluators, nil)
}

// configurationInitializer hands the quota configuration to the plugin, as kube-apiserver's
// admission initializer does; k8s.io/apiserver has no generic one.
type configurationInitializer struct {
	configuration quotav1.Configuration
}

// Initialize gives plugins that want a quota configuration this one.
func (i configurationInitializer) Initialize(plugin admission.Interface) {
	if wants, ok := plugin.(admissioninitializer.WantsQuotaConfiguration); ok {
		wants.SetQuotaConfiguration(i.configuration)
	}
}
