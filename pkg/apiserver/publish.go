package apiserver

import (
	"maps"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/appobjects"
	"github.com/cozystack/apps-apiserver/pkg/catalog"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/registry"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// publish serves exactly the given defined kinds from now on. A kind whose description did not
// change keeps its storage; a new or changed one gets a new storage and scopes. It returns the
// kinds that could not be served, by definition name, and serves the others.
func (r *kindRouter) publish(p catalog.Published) map[string]error {
	defined := p.Defined
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.served.Load()
	next := &servedSet{byResource: map[string]*servedKind{}, byApplicationKind: map[string]*release.Kind{}, typedOwnObjects: p.TypedOwnObjects}
	if next.typedOwnObjects == nil {
		next.typedOwnObjects = map[string]appobjects.Selections{}
	}
	for k, v := range r.typed {
		next.byApplicationKind[k] = v
	}
	failed := map[string]error{}
	for _, d := range defined {
		if prev := old.byResource[d.Kind.Resource]; prev != nil && prev.defined == d {
			next.byResource[d.Kind.Resource] = prev
			next.byApplicationKind[d.Kind.ApplicationKind] = d.Kind
			continue
		}
		served, err := r.serve(d)
		if err != nil {
			failed[d.Definition] = err
			if prev := old.byResource[d.Kind.Resource]; prev != nil && prev.defined.Definition == d.Definition {
				// Keep what was served before.
				next.byResource[d.Kind.Resource] = prev
				next.byApplicationKind[prev.defined.Kind.ApplicationKind] = prev.defined.Kind
			}
			continue
		}
		next.byResource[d.Kind.Resource] = served
		next.byApplicationKind[d.Kind.ApplicationKind] = d.Kind
	}
	moved := r.setTypedLayouts(p.TypedLayouts)
	r.served.Store(next)
	for resource, prev := range old.byResource {
		now := next.byResource[resource]
		if now == nil || now.defined.Kind.Kind != prev.defined.Kind.Kind || now.defined.Kind.Layout.ReleasePrefix != prev.defined.Kind.Layout.ReleasePrefix {
			moved = append(moved, prev.defined.Kind)
		}
	}
	changed := changedReleaseKinds(old.byApplicationKind, next.byApplicationKind)
	for _, kind := range moved {
		changed[kind.ApplicationKind] = true
	}
	if len(changed) > 0 {
		r.onKindsChanged(slices.Sorted(maps.Keys(changed))...)
	}
	for _, kind := range moved {
		// Its objects are others now, or none: as when a CRD's storage is replaced, its watches
		// end and their clients list again.
		r.onResourceGone(kind.Kind)
	}
	if r.discovery != nil {
		r.discovery.update(next.definedKinds())
	}
	if r.openapi != nil {
		r.openapi.update(next.openAPIs())
	}
	if r.announcer != nil {
		r.announcer.announce(servedKindsDigest(next))
	}
	r.onServed(next.resources())
	return failed
}

// setTypedLayouts gives each typed kind the release layout its definition gives (layouts, by
// resource), or its own without one. It returns the kinds whose releases now have another prefix:
// their objects are other releases now.
func (r *kindRouter) setTypedLayouts(layouts map[string]*release.Layout) []*release.Kind {
	var moved []*release.Kind
	for _, k := range r.typed {
		before := k.ReleaseLayout().ReleasePrefix
		if k.SetDefinedLayout(layouts[k.Resource]) {
			layout := k.ReleaseLayout()
			klog.InfoS("Typed kind's release layout changed", "kind", k.Kind, "releasePrefix", layout.ReleasePrefix, "chart", layout.Chart.ChartRef, "labels", layout.ReleaseLabels)
			if layout.ReleasePrefix != before {
				moved = append(moved, k)
			}
		}
	}
	return moved
}

// serve builds a defined kind's storage and request scopes.
func (r *kindRouter) serve(d *kinds.Defined) (*servedKind, error) {
	storage, err := registry.NewREST(d.Kind, appsv1alpha1.SchemeGroupVersion, Scheme, d.Schema, r.backend)
	if err != nil {
		return nil, err
	}
	openapi, err := buildKindOpenAPI(d)
	if err != nil {
		return nil, err
	}
	scope, statusScope, err := r.scopes.requestScopes(d, storage, openapi)
	if err != nil {
		return nil, err
	}
	gvr := appsv1alpha1.SchemeGroupVersion.WithResource(d.Kind.Resource)
	if mapper := r.scopes.base.EquivalentResourceMapper; mapper != nil {
		if registry, ok := mapper.(interface {
			RegisterKindFor(resource schema.GroupVersionResource, subresource string, kind schema.GroupVersionKind)
		}); ok {
			registry.RegisterKindFor(gvr, "", d.GroupVersionKind())
			registry.RegisterKindFor(gvr, "status", d.GroupVersionKind())
		}
	}
	klog.InfoS("Serving defined kind", "kind", d.Kind.Kind, "resource", d.Kind.Resource, "definition", d.Definition, "generation", d.Generation)
	return &servedKind{kindHandlers: kindHandlers{storage: storage, status: registry.NewStatusREST(storage), scope: scope, statusScope: statusScope, patchTypes: customResourcePatchTypes}, defined: d, openapi: openapi}, nil
}

// resources are the resources of every kind served, typed and defined.
func (s *servedSet) resources() []string {
	out := make([]string, 0, len(s.byApplicationKind))
	for _, k := range s.byApplicationKind {
		out = append(out, k.Resource)
	}
	return out
}

// definedKinds lists the served defined kinds by resource name.
func (s *servedSet) definedKinds() []*kinds.Defined {
	out := make([]*kinds.Defined, 0, len(s.byResource))
	for _, k := range s.byResource {
		out = append(out, k.defined)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind.Resource < out[j].Kind.Resource })
	return out
}

// openAPIs are the served defined kinds' OpenAPI, by resource name.
func (s *servedSet) openAPIs() []*kindOpenAPI {
	defined := s.definedKinds()
	out := make([]*kindOpenAPI, 0, len(defined))
	for _, d := range defined {
		out = append(out, s.byResource[d.Kind.Resource].openapi)
	}
	return out
}

// serveOpenAPI makes the server's OpenAPI follow the served kinds from now on; it is called once
// the generic server installed its OpenAPI (PrepareRun).
func (r *kindRouter) serveOpenAPI(o *groupOpenAPI) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.openapi = o
	o.update(r.served.Load().openAPIs())
}

// changedReleaseKinds are the application kinds whose releases convert otherwise from a to b.
func changedReleaseKinds(a, b map[string]*release.Kind) map[string]bool {
	changed := map[string]bool{}
	for k, v := range a {
		if b[k] != v {
			changed[k] = true
		}
	}
	for k := range b {
		if a[k] == nil {
			changed[k] = true
		}
	}
	return changed
}
