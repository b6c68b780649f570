package catalog

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cozystack/apps-apiserver/pkg/appobjects"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// typedSettlement is what the definitions of typed kinds give those kinds in one sync: a release
// layout and the objects that belong to each object of the kind. Their schemas are not used.
type typedSettlement struct {
	layouts map[*release.Kind]*release.Layout
	// ownObjects are by the typed kind's resource, outcomes by definition name.
	ownObjects map[string]appobjects.Selections
	outcomes   map[string]outcome
}

// settleTyped settles the definitions (oldest first) whose application kind is a typed kind's.
// A typed kind never moves its releases onto a prefix a defined kind's releases hold: one served
// now, or one of an older definition (as older definitions keep their names).
func (c *Catalog) settleTyped(defs []*unstructured.Unstructured) typedSettlement {
	s := typedSettlement{ownObjects: map[string]appobjects.Selections{}, outcomes: map[string]outcome{}}
	var typedDefs []*kinds.ApplicationDefinition
	position := map[string]int{}
	for i, obj := range defs {
		position[obj.GetName()] = i
		e := c.entries[obj.GetName()]
		if e.def == nil {
			continue
		}
		if k := c.names.typedApplicationKind(e.def.Spec.Application.Kind); k != nil {
			typedDefs = append(typedDefs, e.def)
			if _, set := s.ownObjects[k.Resource]; !set {
				s.ownObjects[k.Resource], _ = appobjects.CompileAll(e.def.Spec.Secrets, e.def.Spec.Services, e.def.Spec.Ingresses)
			}
		}
	}
	heldBy := func(typedDef *kinds.ApplicationDefinition, prefix string) string {
		for _, obj := range defs {
			e := c.entries[obj.GetName()]
			if e.def == nil || c.names.typedApplicationKind(e.def.Spec.Application.Kind) != nil {
				continue
			}
			served := e.served != nil && e.served.Kind.Layout.ReleasePrefix == prefix
			older := e.built != nil && e.built.Kind.Layout.ReleasePrefix == prefix && position[obj.GetName()] < position[typedDef.Name]
			if prefix != "" && (served || older) {
				return fmt.Sprintf("the ApplicationDefinition %s", obj.GetName())
			}
		}
		return ""
	}
	layouts, refused := kinds.TypedLayouts(c.names.typed, typedDefs, heldBy)
	s.layouts = layouts
	for _, def := range typedDefs {
		k := c.names.typedApplicationKind(def.Spec.Application.Kind)
		if err := refused[def.Name]; err != nil {
			s.outcomes[def.Name] = outcome{eventType: corev1.EventTypeWarning, reason: ReasonInvalidDefinition,
				message: fmt.Sprintf("the release layout of the typed kind %s (%s) is not used: %v; its releases stay named %q", k.Kind, k.Resource, err, s.layout(k).ReleasePrefix)}
			continue
		}
		layout := s.layout(k)
		s.outcomes[def.Name] = outcome{eventType: corev1.EventTypeNormal, reason: ReasonTypedKind,
			message: fmt.Sprintf("%s is served by this server's typed kind %s (%s) with this definition's release layout (releases named %q, chart %s %s); the definition's schema is not used",
				def.Spec.Application.Kind, k.Kind, k.Resource, layout.ReleasePrefix+"<name>", layout.Chart.ChartRef.Kind, layout.Chart.ChartRef.Name)}
	}
	return s
}

// layout is the release layout k has after the settlement.
func (s typedSettlement) layout(k *release.Kind) *release.Layout {
	if l := s.layouts[k]; l != nil {
		return l
	}
	return &k.Layout
}

// byResource are the settled layouts by the typed kind's resource.
func (s typedSettlement) byResource() map[string]*release.Layout {
	out := make(map[string]*release.Layout, len(s.layouts))
	for k, l := range s.layouts {
		out[k.Resource] = l
	}
	return out
}
