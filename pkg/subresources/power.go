package subresources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/dynamic"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/registry"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

const (
	actionStart   = "start"
	actionStop    = "stop"
	actionRestart = "restart"
)

// powerREST serves virtualmachines/start, /stop and /restart (PUT, as KubeVirt's subresources).
// Start and stop change spec.runStrategy with a merge patch through the kind's own PATCH
// handling, so admission, managedFields, generation, validation, dry-run and the acting user are
// handled as for any patch; restart deletes the running instance, which KubeVirt starts again,
// and leaves the spec alone (admission sees it as the CONNECT it is, as for any connect
// subresource).
type powerREST struct {
	parent   *registry.REST
	kind     *release.Kind
	resource schema.GroupResource
	action   string
	dynamic  dynamic.Interface
	// patchMain sends a merge patch of the machine through the kind's PATCH handling.
	patchMain PatchMainResource
}

func (r *powerREST) New() runtime.Object { return &appsv1alpha1.VirtualMachine{} }
func (r *powerREST) Destroy()            {}

// ConnectMethods is PUT only: other verbs answer 405.
func (r *powerREST) ConnectMethods() []string { return []string{http.MethodPut} }

// NewConnectOptions: none in the query (the handlers refuse a dryRun parameter on connect
// requests); options come in the body, as KubeVirt's StartOptions and StopOptions do.
func (r *powerREST) NewConnectOptions() (runtime.Object, bool, string) { return nil, false, "" }

// powerOptions is the optional request body: {"dryRun": ["All"]}.
type powerOptions struct {
	DryRun []string `json:"dryRun,omitempty"`
}

// maxOptionsSize bounds the body: it holds a handful of options.
const maxOptionsSize = 4096

// Connect performs the action for the request and answers with the machine.
func (r *powerREST) Connect(ctx context.Context, name string, _ runtime.Object, responder rest.Responder) (http.Handler, error) {
	return http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		var options powerOptions
		body, err := io.ReadAll(io.LimitReader(req.Body, maxOptionsSize+1))
		switch {
		case err != nil:
			responder.Error(apierrors.NewBadRequest(fmt.Sprintf("reading the request body: %v", err)))
			return
		case len(body) > maxOptionsSize:
			responder.Error(apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("options are limited to %d bytes", maxOptionsSize)))
			return
		case len(bytes.TrimSpace(body)) > 0:
			if err := json.Unmarshal(body, &options); err != nil {
				responder.Error(apierrors.NewBadRequest(fmt.Sprintf("the body must be {\"dryRun\": [\"All\"]} or empty: %v", err)))
				return
			}
		}
		dryRun := options.DryRun
		for _, v := range dryRun {
			if v != metav1.DryRunAll {
				responder.Error(apierrors.NewBadRequest(fmt.Sprintf("unsupported dryRun value %q: only %q", v, metav1.DryRunAll)))
				return
			}
		}
		var obj runtime.Object
		if r.action == actionRestart {
			obj, err = r.restart(ctx, name, len(dryRun) > 0)
		} else {
			obj, err = r.setRunStrategy(ctx, req, name, len(dryRun) > 0)
		}
		if err != nil {
			responder.Error(err)
			return
		}
		responder.Object(http.StatusOK, obj)
	}), nil
}

// setRunStrategy starts (Always) or stops (Halted) the machine with a merge patch of
// spec.runStrategy sent through the kind's own PATCH handling (Backend.PatchMainResource), so
// admission sees an UPDATE of the machine and managedFields record the client's manager, as for
// any change of the spec. The patch is pinned to the version read, and read again on a conflict.
func (r *powerREST) setRunStrategy(ctx context.Context, req *http.Request, name string, dryRun bool) (runtime.Object, error) {
	want := appsv1alpha1.RunStrategyAlways
	state := "running"
	if r.action == actionStop {
		want, state = appsv1alpha1.RunStrategyHalted, "stopped"
	}
	for attempt := 1; ; attempt++ {
		obj, err := r.parent.Get(ctx, name, &metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		vm := obj.(*appsv1alpha1.VirtualMachine)
		if vm.Spec != nil && vm.Spec.RunStrategy != nil && *vm.Spec.RunStrategy == want {
			// As KubeVirt answers: nothing to do is a conflict with the current state.
			return nil, apierrors.NewConflict(r.resource, name, fmt.Errorf("the machine is already %s (spec.runStrategy %s)", state, want))
		}
		patch := fmt.Sprintf(`{"metadata":{"resourceVersion":%q},"spec":{"runStrategy":%q}}`, vm.ResourceVersion, want)
		out, err := r.patchMain(ctx, req, r.kind.Resource, vm.Namespace, name, []byte(patch), dryRun)
		if apierrors.IsConflict(err) && attempt < maxPowerAttempts {
			continue
		}
		return out, err
	}
}

// maxPowerAttempts bounds how often start or stop reads the machine again after a conflicting
// write (Flux's status writes do not conflict: they do not change the object's version).
const maxPowerAttempts = 3

// restart deletes the running instance; KubeVirt starts a new one for a machine that should run.
func (r *powerREST) restart(ctx context.Context, name string, dryRun bool) (runtime.Object, error) {
	obj, err := r.parent.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	vm := obj.(*appsv1alpha1.VirtualMachine)
	if vm.DeletionTimestamp != nil {
		return nil, apierrors.NewConflict(r.resource, name, errors.New("the machine is being deleted"))
	}
	if vm.Spec != nil && vm.Spec.RunStrategy != nil && *vm.Spec.RunStrategy == appsv1alpha1.RunStrategyHalted {
		return nil, apierrors.NewConflict(r.resource, name, errors.New("the machine is stopped: start it instead"))
	}
	instance := r.kind.ReleaseName(name)
	if len(instance) > 63 {
		instance = instance[:63]
	}
	vmis := r.dynamic.Resource(kinds.KubeVirtMachineInstances.Resource).Namespace(vm.Namespace)
	if _, err := vmis.Get(ctx, instance, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewConflict(r.resource, name, errors.New("the machine has no running instance to restart"))
		}
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("reading the machine's instance: %v", err))
	}
	if dryRun {
		return vm, nil
	}
	if err := vmis.Delete(ctx, instance, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("restarting the machine's instance: %v", err))
	}
	return vm, nil
}
