package kinds

import (
	cdiv1beta1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// projectVMDisk reads CDI's DataVolume: the disk is ready once its content is in place
// (Succeeded), or waits for the machine that will use it (WaitForFirstConsumer).
func projectVMDisk(objects release.Workloads) release.WorkloadState {
	v := newVerdict()
	dvs := objects[CDIDataVolumes.Resource]
	if len(dvs) == 0 {
		v.missing(CDIDataVolumes)
		return v.state()
	}
	for _, obj := range sortedByName(dvs) {
		var dv cdiv1beta1.DataVolume
		if err := decode(obj, &dv); err != nil {
			v.ready(CDIDataVolumes, obj, false, "DataVolumeUnreadable", err.Error())
			continue
		}
		v.status["phase"] = string(dv.Status.Phase)
		if dv.Status.Progress != "" {
			v.status["progress"] = string(dv.Status.Progress)
		}
		switch dv.Status.Phase {
		case cdiv1beta1.Succeeded, cdiv1beta1.WaitForFirstConsumer:
			v.ready(CDIDataVolumes, obj, true, "", "")
		case cdiv1beta1.Failed:
			_, _, message := conditionOf(obj, string(cdiv1beta1.DataVolumeRunning))
			v.ready(CDIDataVolumes, obj, false, "DataVolumeFailed", "phase Failed: "+message)
		default:
			phase := string(dv.Status.Phase)
			if phase == "" {
				phase = "not reported yet"
			}
			v.ready(CDIDataVolumes, obj, false, "DataVolumeNotReady", "phase "+phase)
		}
	}
	return v.state()
}
