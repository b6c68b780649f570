package release

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// testKind is a kind with a workload projection, as every served kind has.
func testKind() *Kind {
	return &Kind{Layout: Layout{ReleasePrefix: "vm-disk-"}, ProjectWorkloads: func(Workloads) WorkloadState { return WorkloadState{} }}
}

func fluxReady(hr *unstructured.Unstructured, status string) {
	_ = unstructured.SetNestedSlice(hr.Object, []any{map[string]any{
		"type": "Ready", "status": status, "reason": "InstallSucceeded", "message": "Helm install succeeded",
		"lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": int64(1),
	}}, "status", "conditions")
}

func withState(t *testing.T, hr *unstructured.Unstructured, state *WorkloadState) {
	t.Helper()
	raw, err := EncodeWorkloadState(state)
	if err != nil {
		t.Fatal(err)
	}
	hr.SetAnnotations(map[string]string{AnnotationWorkloads: raw})
}

func conditionsOf(t *testing.T, status map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	list, _ := status["conditions"].([]any)
	for _, c := range list {
		m := c.(map[string]any)
		out[m["type"].(string)] = m
	}
	return out
}

func TestWorkloadStateShapesReady(t *testing.T) {
	cases := []struct {
		name                    string
		flux                    string
		state                   *WorkloadState
		wantReady, wantWorkload string
		wantReadyReason         string
	}{
		{name: "installed and up", flux: "True", state: &WorkloadState{Ready: true, Reason: ReasonWorkloadsReady, Message: "all ready"},
			wantReady: "True", wantWorkload: "True", wantReadyReason: "InstallSucceeded"},
		{name: "installed, a workload failed", flux: "True", state: &WorkloadState{Reason: "DataVolumeFailed", Message: "DataVolume vm-disk-a: import failed"},
			wantReady: "False", wantWorkload: "False", wantReadyReason: ReasonWorkloadsNotReady},
		{name: "install failed, workloads up", flux: "False", state: &WorkloadState{Ready: true, Reason: ReasonWorkloadsReady, Message: "all ready"},
			wantReady: "False", wantWorkload: "True", wantReadyReason: "InstallSucceeded"},
		{name: "installed, nothing recorded yet", flux: "True", state: nil,
			wantReady: "Unknown", wantWorkload: "Unknown", wantReadyReason: ReasonWorkloadsNotReady},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hr := (&Kind{Layout: Layout{ReleasePrefix: "vm-disk-"}}).NewRelease("ns", "a")
			fluxReady(hr, tc.flux)
			if tc.state != nil {
				withState(t, hr, tc.state)
			}
			conditions := conditionsOf(t, testKind().projectStatus(hr))
			ready, workloads := conditions["Ready"], conditions[ConditionWorkloadsReady]
			if ready["status"] != tc.wantReady || ready["reason"] != tc.wantReadyReason || workloads["status"] != tc.wantWorkload {
				t.Errorf("Ready=%v (%v), WorkloadsReady=%v; want Ready=%s (%s), WorkloadsReady=%s",
					ready["status"], ready["reason"], workloads["status"], tc.wantReady, tc.wantReadyReason, tc.wantWorkload)
			}
			if tc.state != nil && tc.wantReadyReason == ReasonWorkloadsNotReady && ready["message"] != tc.state.Message {
				t.Errorf("Ready's message does not say which workload: %v", ready["message"])
			}
		})
	}
}

func TestWorkloadStateFieldsAndTransitionTime(t *testing.T) {
	hr := (&Kind{Layout: Layout{ReleasePrefix: "vm-disk-"}}).NewRelease("ns", "a")
	// A kind's field never replaces a shared one (version is Flux's).
	withState(t, hr, &WorkloadState{Ready: true, Reason: ReasonWorkloadsReady, Message: "ok", Since: "2026-02-03T04:05:06Z",
		Status: map[string]any{"phase": "Succeeded", "version": "forged"}})
	_ = unstructured.SetNestedField(hr.Object, "1.0.0", "status", "lastAttemptedRevision")
	status := testKind().projectStatus(hr)
	if status["phase"] != "Succeeded" || status["version"] != "1.0.0" {
		t.Errorf("status fields: %v", status)
	}
	if got := conditionsOf(t, status)[ConditionWorkloadsReady]["lastTransitionTime"]; got != "2026-02-03T04:05:06Z" {
		t.Errorf("lastTransitionTime = %v", got)
	}
	// A garbled annotation is reported, not a failure to serve the object.
	hr.SetAnnotations(map[string]string{AnnotationWorkloads: "{"})
	if c := conditionsOf(t, testKind().projectStatus(hr))[ConditionWorkloadsReady]; c["status"] != string(metav1.ConditionUnknown) {
		t.Errorf("garbled state: %v", c)
	}
}

func TestUntouchedReleaseHasNoConditions(t *testing.T) {
	hr := (&Kind{Layout: Layout{ReleasePrefix: "vm-disk-"}}).NewRelease("ns", "a")
	if conditions, ok := testKind().projectStatus(hr)["conditions"]; ok {
		t.Errorf("a release neither Flux nor the projector reported on has conditions, unlike a new custom resource: %v", conditions)
	}
}

func TestWithoutProjectionReadyIsFlux(t *testing.T) {
	hr := (&Kind{Layout: Layout{ReleasePrefix: "vm-disk-"}}).NewRelease("ns", "a")
	fluxReady(hr, "True")
	conditions := conditionsOf(t, (&Kind{Layout: Layout{ReleasePrefix: "vm-disk-"}}).projectStatus(hr))
	if _, ok := conditions[ConditionWorkloadsReady]; ok || conditions["Ready"]["status"] != "True" {
		t.Errorf("a kind without projection: %v", conditions)
	}
}
