package kinds

import (
	"github.com/cozystack/apps-apiserver/pkg/appobjects"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// ConfigureTyped applies the release layout of the definitions of typed kinds to those kinds: a
// definition whose application kind is a typed kind's (Kubernetes, Bucket, VMDisk, VMInstance)
// gives that kind's release prefix, chart reference, release labels and the objects that belong to
// each object of the kind (secrets, services, ingresses); its schema is not used
// (the Go types stay the schema). The precedence, highest first: the definition, the kinds config
// file, the built-in layout. It returns the kinds changed, by name. Called once at start-up,
// before any storage is built; a later change of such a definition takes effect at the next
// start (see the catalog's TypedKind event).
func ConfigureTyped(typed []*release.Kind, defs []*ApplicationDefinition) []string {
	byApplicationKind := map[string]*release.Kind{}
	for _, k := range typed {
		byApplicationKind[k.ApplicationKind] = k
	}
	var changed []string
	for _, def := range defs {
		k := byApplicationKind[def.Spec.Application.Kind]
		if k == nil {
			continue
		}
		// The objects the definition says belong to each object of the kind, until the catalog
		// publishes the definitions as they are (they follow it from then on).
		k.OwnObjects, _ = appobjects.CompileAll(def.Spec.Secrets, def.Spec.Services, def.Spec.Ingresses)
		if !TypedLayoutDiffers(k, def) {
			continue
		}
		rel := def.Spec.Release
		if !releasePrefixPattern.MatchString(rel.Prefix) || rel.ChartRef == nil || rel.ChartRef.Kind == "" || rel.ChartRef.Name == "" {
			continue
		}
		k.ReleasePrefix = rel.Prefix
		k.Chart.ChartRef = &release.SourceRef{Kind: rel.ChartRef.Kind, Name: rel.ChartRef.Name, Namespace: rel.ChartRef.Namespace}
		k.Chart.Name, k.Chart.SourceRef, k.Chart.Version = "", nil, ""
		k.ReleaseLabels = rel.Labels
		if _, shard := rel.Labels[release.ShardingLabel]; shard {
			k.Chart.ShardingKey = ""
		}
		changed = append(changed, k.Kind)
	}
	return changed
}

// TypedLayoutDiffers reports whether a definition of a typed kind asks for another release layout
// than the kind has.
func TypedLayoutDiffers(k *release.Kind, def *ApplicationDefinition) bool {
	rel := def.Spec.Release
	if rel.Prefix != k.ReleasePrefix || rel.ChartRef == nil || k.Chart.ChartRef == nil {
		return true
	}
	ref := k.Chart.ChartRef
	if ref.Kind != rel.ChartRef.Kind || ref.Name != rel.ChartRef.Name || ref.Namespace != rel.ChartRef.Namespace {
		return true
	}
	for key, value := range rel.Labels {
		if k.ReleaseLabels[key] != value && !(key == release.ShardingLabel && k.Chart.ShardingKey == value) {
			return true
		}
	}
	return false
}
