// Package registry is the generic storage behind every apps.cozy.io kind: it implements the
// rest.* verbs once, reading from the shared HelmRelease cache and writing HelmReleases to
// kube-apiserver, parameterized by a release.Kind.
package registry

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apiextensions-apiserver/pkg/registry/customresource/tableconvertor"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/cozystack/apps-apiserver/pkg/crossnamespace"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/releasecache"
)

// visibilityTimeout bounds how long a delete waits for the cache to show it before answering from
// kube-apiserver.
const visibilityTimeout = 30 * time.Second

// WriteGate decides whether a namespace accepts writes; tenancy.Checker is the implementation.
type WriteGate interface {
	AllowWrite(ctx context.Context, resource schema.GroupResource, namespace, name string) error
	// AllowChildTenant decides whether the Tenant name (stored as releaseName) may be created in
	// namespace: the namespace it would make must not be someone else's already.
	AllowChildTenant(ctx context.Context, resource schema.GroupResource, namespace, name, releaseName string) error
}

// Backend is what every kind's storage shares: the cache it reads and the clients it writes with.
type Backend struct {
	Cache *releasecache.Cache
	// Releases reads and writes HelmReleases in kube-apiserver with the server's identity.
	Releases dynamic.NamespaceableResourceInterface
	// ReleaseMeta lists HelmRelease metadata only, for the consistency check of lists.
	ReleaseMeta metadata.Getter
	// Gate refuses writes outside tenant namespaces.
	Gate WriteGate
	// Filter limits lists and watches across namespaces to the namespaces where the user may make
	// them; nil shows every namespace to whoever is authorized.
	Filter *crossnamespace.Filter
}

// REST serves one kind. All kinds share one Backend.
type REST struct {
	kind        *release.Kind
	gv          schema.GroupVersion
	resource    schema.GroupResource
	strategy    strategy
	cache       *releasecache.Cache
	releases    dynamic.NamespaceableResourceInterface
	releaseMeta metadata.Getter
	gate        WriteGate
	filter      *crossnamespace.Filter
	tableConv   rest.TableConvertor
}

var (
	_ rest.StandardStorage          = &REST{}
	_ rest.Scoper                   = &REST{}
	_ rest.ShortNamesProvider       = &REST{}
	_ rest.CategoriesProvider       = &REST{}
	_ rest.SingularNameProvider     = &REST{}
	_ rest.TableConvertor           = &REST{}
	_ rest.GroupVersionKindProvider = &REST{}
	_ rest.ResetFieldsStrategy      = &REST{}
)

// NewREST returns the storage for one kind, validated and defaulted by specSchema.
func NewREST(kind *release.Kind, gv schema.GroupVersion, typer runtime.ObjectTyper, specSchema SpecSchema, backend Backend) (*REST, error) {
	tc, err := tableconvertor.New(kind.TableColumns())
	if err != nil {
		return nil, fmt.Errorf("table columns of %s: %w", kind, err)
	}
	return &REST{
		kind:        kind,
		gv:          gv,
		resource:    gv.WithResource(kind.Resource).GroupResource(),
		strategy:    newStrategy(typer, kind, specSchema),
		cache:       backend.Cache,
		releases:    backend.Releases,
		releaseMeta: backend.ReleaseMeta,
		gate:        backend.Gate,
		filter:      backend.Filter,
		tableConv:   tc,
	}, nil
}

// New returns an empty object of the kind.
func (r *REST) New() runtime.Object { return r.kind.New() }

// NewList returns an empty list of the kind.
func (r *REST) NewList() runtime.Object { return r.kind.NewList() }

// Destroy has nothing to release: the cache is shared and stopped by the server.
func (r *REST) Destroy() {}

// NamespaceScoped is true: applications live in tenant namespaces.
func (r *REST) NamespaceScoped() bool { return true }

// ShortNames are the kind's kubectl abbreviations.
func (r *REST) ShortNames() []string { return r.kind.ShortNames }

// Categories puts every kind in the "cozy" category.
func (r *REST) Categories() []string { return []string{release.Category} }

// GetSingularName is the singular resource name kubectl resolves.
func (r *REST) GetSingularName() string { return r.kind.Singular }

// GroupVersionKind is the kind served by this storage.
func (r *REST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return r.kind.GroupVersionKind(r.gv)
}

// GetResetFields says that the main resource never takes status, as for a CRD with a status
// subresource: server-side apply of an object with status records no status ownership (the
// handlers' field manager drops those fields).
func (r *REST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(r.gv.String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// ConvertToTable renders `kubectl get` rows with the kind's printer columns.
func (r *REST) ConvertToTable(ctx context.Context, obj, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.tableConv.ConvertToTable(ctx, obj, tableOptions)
}
