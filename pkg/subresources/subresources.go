// Package subresources serves what tenants create things for, as subresources with their own RBAC
// nouns: a cluster's kubeconfig (kuberneteses/kubeconfig), a bucket's credentials
// (buckets/credentials) and a virtual machine's power (virtualmachines/start, stop, restart). The
// credentials come from Secrets the platform writes; the server reads them only when the operator
// enabled it (Backend.Secrets) and never writes Secrets.
package subresources

import (
	"context"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/cozystack/apps-apiserver/pkg/registry"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// Backend is what the subresources read and write besides the kind's own storage.
type Backend struct {
	// Secrets reads the platform's credential Secrets; nil when credentials subresources are off.
	Secrets corev1client.SecretsGetter
	// Dynamic reads workload objects and deletes a virtual machine's running instance on restart.
	Dynamic dynamic.Interface
	// PatchMainResource changes an object as a PATCH of it would, within the request being served.
	PatchMainResource PatchMainResource
}

// PatchMainResource sends a JSON merge patch of an object through its kind's own PATCH handling
// (admission, field manager, dry run) as part of the request req being served, and returns the
// patched object or the error that PATCH would answer.
type PatchMainResource func(ctx context.Context, req *http.Request, resource, namespace, name string, patch []byte, dryRun bool) (runtime.Object, error)

// For returns the subresources kind declares (release.Kind.Subresources), keyed by their path
// under the kind's resource. A name this package does not serve is an error.
func For(kind *release.Kind, parent *registry.REST, backend Backend) (map[string]rest.Storage, error) {
	gr := schema.GroupResource{Group: "apps.cozy.io", Resource: kind.Resource}
	out := map[string]rest.Storage{}
	for _, name := range kind.Subresources {
		switch name {
		case "kubeconfig":
			out[name] = &kubeconfigREST{parent: parent, kind: kind, resource: gr, secrets: backend.Secrets}
		case "credentials":
			out[name] = &credentialsREST{parent: parent, kind: kind, resource: gr, secrets: backend.Secrets, dynamic: backend.Dynamic}
		case actionStart, actionStop, actionRestart:
			out[name] = &powerREST{parent: parent, kind: kind, resource: gr, action: name, dynamic: backend.Dynamic, patchMain: backend.PatchMainResource}
		default:
			return nil, fmt.Errorf("kind %s declares subresource %q, which no code serves", kind.Kind, name)
		}
	}
	return out, nil
}

// Credentials lists the paths whose responses carry credentials: never cached (Cache-Control:
// no-store), and not readable with the view role (secrets: an application's own Secrets, served
// for every kind by the router, see pkg/apiserver/own_objects.go).
var Credentials = []string{"kubeconfig", "credentials", "secrets"}

// ErrDisabled answers a credentials request on a server that may not read Secrets.
func ErrDisabled(resource schema.GroupResource, name string) error {
	return apierrors.NewGenericServerResponse(http.StatusNotImplemented, "get", resource, name,
		"credentials subresources are disabled on this server: the operator enables them with artifacts/deploy/optional/credentials-rbac.yaml and --credentials-subresources", 0, false)
}

// notReady answers while the platform has not produced what the subresource returns yet.
func notReady(resource schema.GroupResource, name, format string, args ...any) error {
	return apierrors.NewConflict(resource, name, fmt.Errorf(format, args...))
}

// secretError turns a failure to read a platform Secret into the tenant's error: a missing
// Secret means not ready yet, a refusal means the server's RBAC lacks the optional manifest.
func secretError(resource schema.GroupResource, name, secret string, err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return notReady(resource, name, "Secret %s is not there yet: the platform writes it once the %s is ready", secret, resource.Resource)
	case apierrors.IsForbidden(err):
		return apierrors.NewForbidden(resource, name, fmt.Errorf("the server may not read Secret %s: apply artifacts/deploy/optional/credentials-rbac.yaml", secret))
	default:
		return apierrors.NewServiceUnavailable(fmt.Sprintf("reading Secret %s: %v", secret, err))
	}
}
