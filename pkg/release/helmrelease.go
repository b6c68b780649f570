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
	// ReservedPrefix marks the annotations this server keeps on HelmReleases for its own
	// bookkeeping. They are hidden from users, who can neither read, set nor remove them.
	ReservedPrefix = "apiserver.apps.cozy.io/"
	// ApplicationPrefix marks the labels that tie a HelmRelease to the application it stores,
	// in the layout cozystack-api writes, so releases written by either server are the same.
	ApplicationPrefix = "apps.cozystack.io/"
	// LabelApplicationKind is the application kind a release stores (e.g. VMInstance: the label's
	// value is configuration, see Kind.ApplicationKind). The server's cache selects on it.
	LabelApplicationKind = ApplicationPrefix + "application.kind"
	// LabelApplicationGroup is the API group cozystack-api serves the application under.
	LabelApplicationGroup = ApplicationPrefix + "application.group"
	// LabelApplicationName is the application's name.
	LabelApplicationName = ApplicationPrefix + "application.name"
	// ApplicationGroup is the value of LabelApplicationGroup.
	ApplicationGroup = "apps.cozystack.io"
	// UserKeyPrefix is prepended to the keys of the object's own labels and annotations on the
	// release (label `team: a` is stored as `apps.cozystack.io-team: a`), as cozystack-api does:
	// users' keys never collide with the release's own, and keys without it are not the user's.
	UserKeyPrefix = "apps.cozystack.io-"
	// ShardingLabel picks which Flux controller shard reconciles a release.
	ShardingLabel = "sharding.fluxcd.io/key"
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

// IsReserved reports whether a label or annotation key a user sets on an object belongs to the
// release machinery: the server's own bookkeeping (ReservedPrefix), the application labels
// (ApplicationPrefix) and Flux's keys (any key in the fluxcd.io domain). Users may not set them.
func IsReserved(key string) bool {
	if strings.HasPrefix(key, ReservedPrefix) || strings.HasPrefix(key, ApplicationPrefix) {
		return true
	}
	domain, _, found := strings.Cut(key, "/")
	return found && (domain == FluxDomain || strings.HasSuffix(domain, "."+FluxDomain))
}

// userKeys returns the object's own keys among a release's labels or annotations, unprefixed.
func userKeys(onRelease map[string]string) map[string]string {
	var out map[string]string
	for key, value := range onRelease {
		userKey, ok := strings.CutPrefix(key, UserKeyPrefix)
		if !ok || userKey == "" {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[userKey] = value
	}
	return out
}

// withUserKeys returns a release's labels or annotations with the object's own keys replaced by
// user's, prefixed; every other key (the release machinery's, other tools') is kept.
func withUserKeys(onRelease, user map[string]string) map[string]string {
	out := make(map[string]string, len(onRelease)+len(user))
	for key, value := range onRelease {
		if !strings.HasPrefix(key, UserKeyPrefix) {
			out[key] = value
		}
	}
	for key, value := range user {
		out[UserKeyPrefix+key] = value
	}
	return out
}

// StoredKey is the key a user's label or annotation key has on the release.
func StoredKey(userKey string) string { return UserKeyPrefix + userKey }

// isHiddenFinalizer reports whether a finalizer on the HelmRelease belongs to the release machinery
// rather than to the user.
func isHiddenFinalizer(f string) bool { return f == FluxFinalizer }
