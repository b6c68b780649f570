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
	// FluxFinalizer is helm-controller's finalizer. It is hidden from users and always preserved,
	// so deleting an object still uninstalls its release.
	FluxFinalizer = "finalizers.fluxcd.io"
)

// IsReserved reports whether a label or annotation key belongs to the server.
func IsReserved(key string) bool { return strings.HasPrefix(key, ReservedPrefix) }

// isHiddenFinalizer reports whether a finalizer on the HelmRelease belongs to the release machinery
// rather than to the user.
func isHiddenFinalizer(f string) bool { return f == FluxFinalizer }
