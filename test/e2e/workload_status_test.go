package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/test/workloadsim"
)

// Status from below the release: Flux installs a VMDisk's release with the real helm-controller,
// the test plays CDI by writing the DataVolume's status, and the VMDisk shows it: phase and
// progress, a WorkloadsReady condition naming what is not ready, Ready only when both Flux and the
// disk are, as watch events that resume exactly.

// setDataVolumeStatus writes the DataVolume's status as CDI would.
func setDataVolumeStatus(t *testing.T, ns, name string, status map[string]any) {
	t.Helper()
	client := cp.Dynamic.Resource(workloadsim.DataVolumes).Namespace(ns)
	eventually(t, 30*time.Second, "DataVolume status written", func(ctx context.Context) (bool, error) {
		dv, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		dv.Object["status"] = status
		_, err = client.UpdateStatus(ctx, dv, metav1.UpdateOptions{})
		return err == nil, err
	})
}

// waitDisk waits until the VMDisk's status satisfies cond and returns it.
func waitDisk(t *testing.T, ns, name, what string, cond func(*appsv1alpha1.VMDisk) error) *appsv1alpha1.VMDisk {
	t.Helper()
	var got *appsv1alpha1.VMDisk
	eventually(t, 60*time.Second, what, func(ctx context.Context) (bool, error) {
		disk, err := cp.Apps.AppsV1alpha1().VMDisks(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got = disk
		err = cond(disk)
		return err == nil, err
	})
	return got
}

func condition(conditions []metav1.Condition, typ string) metav1.Condition {
	for _, c := range conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

func TestWorkloadStatusFromBelowTheRelease(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	dumpFluxLogOnFailure(t)
	disks := cp.Apps.AppsV1alpha1().VMDisks(ns)
	disk := &appsv1alpha1.VMDisk{ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: map[string]string{fluxLabel: "true"}},
		Spec: &appsv1alpha1.VMDiskSpec{}}
	if _, err := disks.Create(ctx, disk, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Installed by Flux, nothing reported by CDI yet: Flux says Ready, the disk does not.
	waitDisk(t, ns, "data", "installed, the disk not ready", func(d *appsv1alpha1.VMDisk) error {
		workloads, ready := condition(d.Status.Conditions, "WorkloadsReady"), condition(d.Status.Conditions, "Ready")
		if workloads.Status != metav1.ConditionFalse || ready.Status != metav1.ConditionFalse || ready.Reason != "WorkloadsNotReady" {
			return fmt.Errorf("WorkloadsReady=%s (%s: %s), Ready=%s (%s)", workloads.Status, workloads.Reason, workloads.Message, ready.Status, ready.Reason)
		}
		return nil
	})
	list, err := disks.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := disks.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// CDI importing: phase and progress show, still not ready.
	setDataVolumeStatus(t, ns, "vm-disk-data", map[string]any{"phase": "ImportInProgress", "progress": "45.5%"})
	importing := waitDisk(t, ns, "data", "import progress shown", func(d *appsv1alpha1.VMDisk) error {
		if d.Status.Phase != "ImportInProgress" || d.Status.Progress != "45.5%" {
			return fmt.Errorf("phase %q progress %q", d.Status.Phase, d.Status.Progress)
		}
		return nil
	})
	if c := condition(importing.Status.Conditions, "WorkloadsReady"); c.Status != metav1.ConditionFalse || c.Message != "DataVolume vm-disk-data: phase ImportInProgress" {
		t.Errorf("WorkloadsReady while importing: %+v", c)
	}

	// CDI failed: the reason and CDI's message reach the object.
	setDataVolumeStatus(t, ns, "vm-disk-data", map[string]any{"phase": "Failed", "progress": "45.5%", "conditions": []any{
		map[string]any{"type": "Running", "status": "False", "reason": "Error", "message": "Unable to connect to http data source: 404 Not Found"}}})
	failed := waitDisk(t, ns, "data", "import failure shown", func(d *appsv1alpha1.VMDisk) error {
		if c := condition(d.Status.Conditions, "WorkloadsReady"); c.Reason != "DataVolumeFailed" {
			return fmt.Errorf("WorkloadsReady %+v", c)
		}
		return nil
	})
	if c := condition(failed.Status.Conditions, "Ready"); c.Status != metav1.ConditionFalse || c.Message != "DataVolume vm-disk-data: phase Failed: Unable to connect to http data source: 404 Not Found" {
		t.Errorf("Ready after a failed import: %+v", c)
	}
	// CDI's warning event on the DataVolume, and Flux's events on the release, are events of the
	// VMDisk: a tenant sees them in kubectl describe without rights on either.
	dv, err := cp.Dynamic.Resource(workloadsim.DataVolumes).Namespace(ns).Get(ctx, "vm-disk-data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	if _, err := cp.Kube.CoreV1().Events(ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "vm-disk-data.import", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{APIVersion: "cdi.kubevirt.io/v1beta1", Kind: "DataVolume", Name: "vm-disk-data", Namespace: ns, UID: dv.GetUID()},
		Reason:         "ErrImportFailed", Message: "Unable to connect to http data source: 404 Not Found", Type: corev1.EventTypeWarning,
		Count: 1, FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "cdi-controller"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bindRole(t, ns, "view", "viewer-"+ns)
	eventually(t, 30*time.Second, "kubectl describe shows why the disk failed", func(context.Context) (bool, error) {
		out, _ := kubectl(t, false, "describe", "vmdisk", "data", "-n", ns, "--as=viewer-"+ns)
		for _, want := range []string{"DataVolumeFailed", "ErrImportFailed", "DataVolume vm-disk-data: Unable to connect", "InstallSucceeded"} {
			if !strings.Contains(out, want) {
				return false, fmt.Errorf("no %q in:\n%s", want, out)
			}
		}
		return true, nil
	})

	// CDI succeeded: Ready.
	setDataVolumeStatus(t, ns, "vm-disk-data", map[string]any{"phase": "Succeeded", "progress": "100.0%"})
	ready := waitDisk(t, ns, "data", "Ready once imported", func(d *appsv1alpha1.VMDisk) error {
		if c := condition(d.Status.Conditions, "Ready"); c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
	if ready.Status.Phase != "Succeeded" || condition(ready.Status.Conditions, "WorkloadsReady").Status != metav1.ConditionTrue {
		t.Errorf("status once imported: %+v", ready.Status)
	}

	// Every change arrived as a watch event, in resourceVersion order, and a watch resumed from the
	// list replays the same sequence.
	phases := collectPhases(t, w, "Succeeded")
	resumed, err := disks.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Stop()
	if again := collectPhases(t, resumed, "Succeeded"); fmt.Sprint(again) != fmt.Sprint(phases) {
		t.Errorf("resumed watch saw %v, the live one %v", again, phases)
	}
	for _, want := range []string{"ImportInProgress", "Failed", "Succeeded"} {
		if !containsPhase(phases, want) {
			t.Errorf("no watch event with phase %s: %v", want, phases)
		}
	}
}

// collectPhases reads MODIFIED events until one shows phase last, returning each event's phase
// and checking resourceVersions only grow.
func collectPhases(t *testing.T, w watch.Interface, last string) []string {
	t.Helper()
	var phases []string
	var previous string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed; saw %v", phases)
			}
			d, isDisk := e.Object.(*appsv1alpha1.VMDisk)
			if !isDisk || e.Type != watch.Modified {
				continue
			}
			if previous != "" && !newer(d.ResourceVersion, previous) {
				t.Errorf("resourceVersion %s after %s", d.ResourceVersion, previous)
			}
			previous = d.ResourceVersion
			phases = append(phases, d.Status.Phase)
			if d.Status.Phase == last && condition(d.Status.Conditions, "Ready").Status == metav1.ConditionTrue {
				return phases
			}
		case <-timeout:
			t.Fatalf("no event with phase %s and Ready; saw %v", last, phases)
		}
	}
}

func newer(a, b string) bool {
	var x, y uint64
	_, _ = fmt.Sscan(a, &x)
	_, _ = fmt.Sscan(b, &y)
	return x > y
}

func containsPhase(phases []string, want string) bool {
	for _, p := range phases {
		if p == want {
			return true
		}
	}
	return false
}
