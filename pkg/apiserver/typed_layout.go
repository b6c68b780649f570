package apiserver

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// configureTypedKinds applies the release layout of the ApplicationDefinitions of typed kinds
// (kinds.ConfigureTyped) before the server serves, so no request made before the catalog first
// settles writes a release in another layout. Without the ApplicationDefinition CRD, or when the
// definitions cannot be read within a few seconds, the typed kinds keep the kinds config's layout
// until the catalog publishes theirs: the server starts either way.
func configureTypedKinds(dyn dynamic.Interface, typed []*release.Kind) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := dyn.Resource(kinds.ApplicationDefinitionGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		klog.InfoS("ApplicationDefinitions not read at start-up; the typed kinds keep the kinds config's release layout", "err", err)
		return
	}
	var defs []*kinds.ApplicationDefinition
	for i := range list.Items {
		def, err := kinds.DecodeApplicationDefinition(&list.Items[i])
		if err != nil {
			continue
		}
		defs = append(defs, def)
	}
	if changed := kinds.ConfigureTyped(typed, defs); len(changed) > 0 {
		klog.InfoS("Typed kinds take their release layout from their ApplicationDefinitions", "kinds", changed)
	}
}
