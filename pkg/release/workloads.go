package release

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cozystack/apps-apiserver/pkg/appobjects"
)

// AnnotationWorkloads keeps, on a HelmRelease, the state of the workload objects its chart created
// (WorkloadState as JSON), written by the server's workload-status projector. Keeping it on the
// release makes it part of the release's revision: the object's content never changes without a
// new resourceVersion, watches resume exactly, and every replica serves the same state.
const AnnotationWorkloads = ReservedPrefix + "workloads"

// Condition types and reasons of the workload projection.
const (
	// ConditionWorkloadsReady says whether the workload objects the chart created report ready.
	ConditionWorkloadsReady = "WorkloadsReady"
	// ReasonWorkloadsReady is WorkloadsReady's reason when all of them do.
	ReasonWorkloadsReady = "WorkloadsReady"
	// ReasonNoWorkloadState is WorkloadsReady's reason while no workload object was seen yet.
	ReasonNoWorkloadState = "NoWorkloadState"
	// ReasonWorkloadsNotReady is Ready's reason when Flux installed the release but a workload
	// object is not ready, or its state is not known yet; the message is WorkloadsReady's.
	ReasonWorkloadsNotReady = "WorkloadsNotReady"
)

// Helm's annotations on every object it creates name the release that owns it (the name's key is
// appobjects', which this package builds on).
const (
	HelmAnnotationReleaseName      = appobjects.HelmReleaseAnnotation
	HelmAnnotationReleaseNamespace = "meta.helm.sh/release-namespace"
)

// WorkloadSource is a type of workload object a kind's chart creates (or its controller creates in
// turn) whose state the kind's status projects. An object belongs to the release named in Helm's
// meta.helm.sh/release-name annotation or, lacking it (a VirtualMachineInstance KubeVirt creates),
// to the release of its own name.
type WorkloadSource struct {
	// Resource is the workload type.
	Resource schema.GroupVersionResource
	// Kind is its kind, for messages.
	Kind string
}

// WorkloadState is what a kind's projection makes of its release's workload objects.
type WorkloadState struct {
	// Ready is true when every workload object reached the state the spec asks for.
	Ready bool `json:"ready"`
	// Reason and Message name the first object that is not ready and why (for WorkloadsReady).
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Since is when Ready last changed (RFC 3339), the condition's lastTransitionTime.
	Since string `json:"since,omitempty"`
	// Status holds the kind's own status fields read from the objects, merged into its status.
	Status map[string]any `json:"status,omitempty"`
}

// Workloads are the workload objects of one release, by workload type.
type Workloads map[schema.GroupVersionResource][]*unstructured.Unstructured

// ReadWorkloadState returns the state recorded on a release, nil when there is none.
func ReadWorkloadState(hr *unstructured.Unstructured) (*WorkloadState, error) {
	raw, ok := hr.GetAnnotations()[AnnotationWorkloads]
	if !ok {
		return nil, nil
	}
	var state WorkloadState
	if err := json.Unmarshal([]byte(raw), &state); err != nil {
		return nil, fmt.Errorf("workload state of HelmRelease %s/%s: %w", hr.GetNamespace(), hr.GetName(), err)
	}
	return &state, nil
}

// EncodeWorkloadState is the annotation value for state.
func EncodeWorkloadState(state *WorkloadState) (string, error) {
	raw, err := json.Marshal(state)
	return string(raw), err
}

// projectWorkloads merges the recorded workload state into status (as projectStatus built it from
// Flux's status): the kind's fields, a WorkloadsReady condition, and Ready true only when Flux's
// Ready and WorkloadsReady both are: once Flux installed the release, Helm created the workload
// objects, so a state not recorded yet means not known yet (Ready Unknown), never ready. A release
// nobody reported on yet (no Flux condition, no workload state) has no conditions at all, as a new
// custom resource; a kind without projection (ProjectWorkloads nil: the server runs without
// --workload-status) has no WorkloadsReady and Ready is Flux's.
func (k *Kind) projectWorkloads(hr *unstructured.Unstructured, status map[string]any) {
	if k.ProjectWorkloads == nil {
		return
	}
	state, err := ReadWorkloadState(hr)
	conditions, _ := status["conditions"].([]any)
	if len(conditions) == 0 && state == nil && err == nil {
		return
	}
	workloads := map[string]any{"type": ConditionWorkloadsReady, "status": "Unknown", "reason": ReasonNoWorkloadState,
		"message":            "no workload object of this release has been seen yet",
		"lastTransitionTime": hr.GetCreationTimestamp().UTC().Format("2006-01-02T15:04:05Z")}
	switch {
	case err != nil:
		workloads["message"] = err.Error()
	case state != nil:
		for k, v := range state.Status {
			if _, taken := status[k]; !taken {
				status[k] = v
			}
		}
		workloads["status"], workloads["reason"], workloads["message"] = "False", state.Reason, state.Message
		if state.Ready {
			workloads["status"] = "True"
		}
		if state.Since != "" {
			workloads["lastTransitionTime"] = state.Since
		}
	}
	if observed, ok := status["observedGeneration"]; ok {
		workloads["observedGeneration"] = observed
	}
	for i, c := range conditions {
		ready, ok := c.(map[string]any)
		if !ok || ready["type"] != "Ready" || ready["status"] != "True" || workloads["status"] == "True" {
			continue
		}
		// Flux installed the release, but what it installed is not up, or not known to be yet.
		notReady := map[string]any{}
		for key, v := range ready {
			notReady[key] = v
		}
		notReady["status"], notReady["reason"], notReady["message"] = workloads["status"], ReasonWorkloadsNotReady, workloads["message"]
		conditions[i] = notReady
	}
	status["conditions"] = append(conditions, workloads)
}
