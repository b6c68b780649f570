package kinds

import (
	"fmt"
	"maps"

	"github.com/cozystack/apps-apiserver/pkg/appobjects"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// TypedLayout is the release layout a definition of the typed kind k gives it: the definition's
// release prefix, chart reference and labels over the rest of the kind's own chart settings
// (interval, timeout, history, retries, values Secret). The definition's schema is not used: the
// Go types stay the schema. An error says why the definition's layout cannot be used.
func TypedLayout(k *release.Kind, def *ApplicationDefinition) (*release.Layout, error) {
	rel := def.Spec.Release
	if err := validateRelease(rel); err != nil {
		return nil, err
	}
	layout := &release.Layout{ReleasePrefix: rel.Prefix, Chart: k.Layout.Chart, ReleaseLabels: maps.Clone(rel.Labels)}
	layout.Chart.ChartRef = &release.SourceRef{Kind: rel.ChartRef.Kind, Name: rel.ChartRef.Name, Namespace: rel.ChartRef.Namespace}
	layout.Chart.Name, layout.Chart.SourceRef, layout.Chart.Version = "", nil, ""
	if _, shard := rel.Labels[release.ShardingLabel]; shard {
		// The definition names the Flux shard itself.
		layout.Chart.ShardingKey = ""
	}
	return layout, nil
}

// TypedLayouts settles the release layouts the definitions of typed kinds give those kinds, by the
// typed kind. defs are the definitions whose application kind is a typed kind's; heldBy says which
// other kind holds a release prefix for a definition ("" for none). The first definition of a kind
// gives its layout (defs come oldest first). A later one, one whose layout is invalid, and one
// whose prefix another kind holds or another typed kind would take too is refused (refused, by
// definition name): its kind keeps its own layout, as do kinds without a definition.
// Every typed kind ends with a prefix of its own, as the kinds config guarantees of their own.
func TypedLayouts(typed []*release.Kind, defs []*ApplicationDefinition, heldBy func(def *ApplicationDefinition, prefix string) string) (map[*release.Kind]*release.Layout, map[string]error) {
	byApplicationKind := map[string]*release.Kind{}
	for _, k := range typed {
		byApplicationKind[k.ApplicationKind] = k
	}
	layouts, definition, refused := map[*release.Kind]*release.Layout{}, map[*release.Kind]string{}, map[string]error{}
	for _, def := range defs {
		k := byApplicationKind[def.Spec.Application.Kind]
		if k == nil {
			continue
		}
		if holder, set := definition[k]; set {
			refused[def.Name] = fmt.Errorf("the typed kind %s takes its release layout from the ApplicationDefinition %s", k.Kind, holder)
			continue
		}
		definition[k] = def.Name
		layout, err := TypedLayout(k, def)
		if err == nil && layout.ReleasePrefix != k.Layout.ReleasePrefix {
			if holder := heldBy(def, layout.ReleasePrefix); holder != "" {
				err = fmt.Errorf("the release prefix %q is already used by %s", layout.ReleasePrefix, holder)
			}
		}
		if err != nil {
			refused[def.Name] = err
			continue
		}
		layouts[k] = layout
	}
	// Refuse moves onto a prefix another typed kind has, until none is shared; each round refuses
	// one definition at least, and the kinds' own prefixes are distinct.
	for {
		holders := map[string][]*release.Kind{}
		for _, k := range typed {
			prefix := k.Layout.ReleasePrefix
			if l := layouts[k]; l != nil {
				prefix = l.ReleasePrefix
			}
			holders[prefix] = append(holders[prefix], k)
		}
		moved := false
		for prefix, ks := range holders {
			if len(ks) < 2 {
				continue
			}
			for _, k := range ks {
				if l := layouts[k]; l != nil && l.ReleasePrefix != k.Layout.ReleasePrefix {
					refused[definition[k]] = fmt.Errorf("the release prefix %q would be shared by the typed kinds %s", prefix, kindNames(ks))
					delete(layouts, k)
					moved = true
				}
			}
		}
		if !moved {
			return layouts, refused
		}
	}
}

func kindNames(ks []*release.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Kind
	}
	return out
}

// ConfigureTyped gives the typed kinds the release layout and own objects (secrets, services,
// ingresses) of their definitions, as the catalog does while the server runs, so the server
// starts with them before the catalog first settles. The precedence, highest first: the
// definition, the kinds config file, the built-in layout. It returns the kinds whose layout
// changed, by name.
func ConfigureTyped(typed []*release.Kind, defs []*ApplicationDefinition) []string {
	layouts, _ := TypedLayouts(typed, defs, func(*ApplicationDefinition, string) string { return "" })
	byApplicationKind := map[string]*release.Kind{}
	for _, k := range typed {
		byApplicationKind[k.ApplicationKind] = k
	}
	for _, def := range defs {
		if k := byApplicationKind[def.Spec.Application.Kind]; k != nil {
			k.OwnObjects, _ = appobjects.CompileAll(def.Spec.Secrets, def.Spec.Services, def.Spec.Ingresses)
		}
	}
	var changed []string
	for _, k := range typed {
		if k.SetDefinedLayout(layouts[k]) {
			changed = append(changed, k.Kind)
		}
	}
	return changed
}
