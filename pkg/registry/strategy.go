package registry

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/requestdecode"
	"github.com/cozystack/apps-apiserver/pkg/tenanttree"
)

// strategy holds the create and update rules every kind shares, in the shape k8s.io/apiserver's
// rest.BeforeCreate and rest.BeforeUpdate expect, so those helpers run exactly as for built-in
// resources and CRDs.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	kind   *release.Kind
	schema SpecSchema
}

// SpecSchema validates and defaults a kind's spec; validation.Schema is the implementation. The
// objects are {"spec": ...} maps, so errors carry CRD-style field paths.
type SpecSchema interface {
	Default(obj map[string]any)
	Validate(ctx context.Context, obj map[string]any, decodeErrs field.ErrorList) field.ErrorList
	ValidateUpdate(ctx context.Context, obj, old map[string]any, decodeErrs field.ErrorList) field.ErrorList
}

func newStrategy(typer runtime.ObjectTyper, kind *release.Kind, schema SpecSchema) strategy {
	return strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, kind: kind, schema: schema}
}

func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate drops the status a client sent (status is projected from Flux, never written)
// and applies the schema's defaults, which are then stored.
func (s strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	clearStatus(obj)
	s.defaultSpec(obj)
	if m, err := meta.Accessor(obj); err == nil {
		// As for a custom resource; kube-apiserver gives the HelmRelease the same generation.
		m.SetGeneration(1)
	}
}

// PrepareForUpdate keeps the stored status (clients cannot write it through the main resource)
// and applies the schema's defaults.
func (s strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	copyStatus(obj, old)
	s.defaultSpec(obj)
	m, err := meta.Accessor(obj)
	oldMeta, oldErr := meta.Accessor(old)
	if err != nil || oldErr != nil {
		return
	}
	// As for a custom resource: generation moves on spec changes only. The write moves the
	// HelmRelease's generation the same way, since only the values change with the spec.
	m.SetGeneration(oldMeta.GetGeneration())
	if !sameSpec(obj, old) {
		m.SetGeneration(oldMeta.GetGeneration() + 1)
	}
}

// defaultSpec applies defaults through the spec's JSON form, as for a custom resource. A spec
// that cannot round-trip is left alone; validation reports it.
func (s strategy) defaultSpec(obj runtime.Object) {
	content, err := specContent(obj)
	if err != nil {
		return
	}
	s.schema.Default(content)
	_ = setSpecContent(obj, content)
}

// Validate checks what every kind needs before it can be stored as a HelmRelease.
func (s strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	decodeErrs := requestdecode.TakeErrors(obj)
	if typeErrs := requestdecode.TypeMetaErrors(decodeErrs); len(typeErrs) > 0 {
		return typeErrs
	}
	errs := apimachineryvalidation.ValidateObjectMetaAccessor(m, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	errs = append(errs, s.validateStorable(m)...)
	if s.kind.NestsTenants {
		// On create only: names are immutable, and a Tenant stored before stays writable.
		errs = append(errs, tenanttree.ValidateName(field.NewPath("metadata", "name"), m.GetNamespace(), m.GetName())...)
	}
	content, err := specContent(obj)
	if err != nil {
		return append(errs, field.InternalError(field.NewPath("spec"), err))
	}
	return append(errs, s.schema.Validate(ctx, content, decodeErrs)...)
}

// ValidateUpdate checks metadata immutability and the same storage constraints as create.
func (s strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	oldMeta, err := meta.Accessor(old)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	decodeErrs := requestdecode.TakeErrors(obj)
	if typeErrs := requestdecode.TypeMetaErrors(decodeErrs); len(typeErrs) > 0 {
		return typeErrs
	}
	errs := apimachineryvalidation.ValidateObjectMetaAccessorUpdate(m, oldMeta, field.NewPath("metadata"))
	errs = append(errs, s.validateStorable(m)...)
	content, err := specContent(obj)
	if err != nil {
		return append(errs, field.InternalError(field.NewPath("spec"), err))
	}
	oldContent, err := specContent(old)
	if err != nil {
		return append(errs, field.InternalError(field.NewPath("spec"), err))
	}
	return append(errs, s.schema.ValidateUpdate(ctx, content, oldContent, decodeErrs)...)
}

// validateStorable refuses names Helm cannot use and metadata that would forge the server's own
// bookkeeping on the HelmRelease.
func (s strategy) validateStorable(m metaObject) field.ErrorList {
	var errs field.ErrorList
	if max := s.kind.MaxNameLength(); len(m.GetName()) > max {
		tooLong := field.TooLong(field.NewPath("metadata", "name"), m.GetName(), max)
		tooLong.Detail = fmt.Sprintf("may not be more than %d characters: the release name %q would exceed Helm's %d-character limit on release names",
			max, s.kind.ReleaseName(m.GetName()), release.MaxReleaseNameLength)
		errs = append(errs, tooLong)
	}
	errs = append(errs, storableKeys(field.NewPath("metadata", "labels"), "label", m.GetLabels(), "")...)
	errs = append(errs, storableKeys(field.NewPath("metadata", "annotations"), "annotation", m.GetAnnotations(), release.AnnotationRequestErrors)...)
	for i, f := range m.GetFinalizers() {
		if f == release.FluxFinalizer {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "finalizers").Index(i),
				fmt.Sprintf("the finalizer %q belongs to the release controller", f)))
		}
	}
	return errs
}

// storableKeys refuses label or annotation keys that belong to the release machinery, and keys
// that are not valid once stored on the release with the user-key prefix (the name part of a key
// without a domain gets longer).
func storableKeys(path *field.Path, what string, keys map[string]string, allowed string) field.ErrorList {
	var errs field.ErrorList
	for key := range keys {
		switch {
		case key == allowed:
		case release.IsReserved(key):
			errs = append(errs, field.Forbidden(path.Key(key), fmt.Sprintf("%s keys with the prefix %q or %q or in the %s domain are reserved for the release machinery",
				what, release.ReservedPrefix, release.ApplicationPrefix, release.FluxDomain)))
		default:
			for _, msg := range validation.IsQualifiedName(release.StoredKey(key)) {
				errs = append(errs, field.Invalid(path.Key(key), key, fmt.Sprintf("is stored on the release as %q, which is invalid: %s", release.StoredKey(key), msg)))
			}
		}
	}
	return errs
}

// WarningsOnCreate and WarningsOnUpdate warn about the finalizer names a request adds, as for a
// custom resource (k8s.io/apiserver gives them only to requests that validated).
func (strategy) WarningsOnCreate(_ context.Context, obj runtime.Object) []string {
	return finalizerWarnings(obj, nil)
}
func (strategy) WarningsOnUpdate(_ context.Context, obj, old runtime.Object) []string {
	return finalizerWarnings(obj, old)
}
func (strategy) Canonicalize(runtime.Object)              {}
func (strategy) AllowCreateOnUpdate(context.Context) bool { return false }

// AllowUnconditionalUpdate is false as for CRDs: a PUT must carry the resourceVersion it read.
func (strategy) AllowUnconditionalUpdate(context.Context) bool { return false }
