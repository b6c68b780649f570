package release

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// HelmReleaseGVR is the Flux HelmRelease resource every object is stored as.
var HelmReleaseGVR = schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}

// HelmReleaseGVK is the kind written into new HelmReleases.
var HelmReleaseGVK = schema.GroupVersionKind{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"}

const (
	// ReservedPrefix marks the labels and annotations this server keeps on HelmReleases for its own
	// bookkeeping. They are hidden from users, who can neither read, set nor remove them.
	ReservedPrefix = "apiserver.apps.cozy.io/"
	// LabelKind ties a HelmRelease to the apps.cozy.io kind it stores. The server's cache selects
	// on this label and ignores HelmReleases without it.
	LabelKind = ReservedPrefix + "kind"
	// LabelName ties a HelmRelease to the name of the object it stores.
	LabelName = ReservedPrefix + "name"
	// AnnotationManagedFields keeps the object's server-side-apply managedFields, which cannot live
	// in the HelmRelease's own managedFields (those describe the HelmRelease's writers).
	AnnotationManagedFields = ReservedPrefix + "managed-fields"
	// AnnotationLastModifiedBy and AnnotationLastOperation record who last created, updated or
	// deleted the object through the API, since the HelmRelease is written with the server's own
	// identity. They are for operators; users do not see them.
	AnnotationLastModifiedBy = ReservedPrefix + "last-modified-by"
	AnnotationLastOperation  = ReservedPrefix + "last-operation"
	// AnnotationRequestErrors carries the schema errors found while decoding a request body from
	// the decoder to validation, on the request's object only; it is never stored.
	AnnotationRequestErrors = ReservedPrefix + "request-errors"
	// FluxFinalizer is helm-controller's finalizer. It is hidden from users and always preserved,
	// so deleting an object still uninstalls its release.
	FluxFinalizer = "finalizers.fluxcd.io"
	// FluxDomain is the domain of the labels and annotations that steer Flux.
	FluxDomain = "fluxcd.io"
)

// IsReserved reports whether a label or annotation key belongs to the release machinery rather
// than to the user: the server's own bookkeeping (ReservedPrefix) and Flux's keys (any key in the
// fluxcd.io domain, e.g. the sharding label that picks which controller reconciles the release).
// Such keys are hidden from users, kept on every update, and refused when a user sets them.
func IsReserved(key string) bool {
	if strings.HasPrefix(key, ReservedPrefix) {
		return true
	}
	domain, _, found := strings.Cut(key, "/")
	return found && (domain == FluxDomain || strings.HasSuffix(domain, "."+FluxDomain))
}

// isHiddenFinalizer reports whether a finalizer on the HelmRelease belongs to the release machinery
// rather than to the user.
func isHiddenFinalizer(f string) bool { return f == FluxFinalizer }
