package kinds

import (
	"fmt"

	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// projectVirtualMachine reads KubeVirt's VirtualMachine and, while it runs, its
// VirtualMachineInstance: the machine is ready when KubeVirt says so, or when it is stopped as its
// runStrategy asks.
func projectVirtualMachine(objects release.Workloads) release.WorkloadState {
	v := newVerdict()
	vms := objects[KubeVirtMachines.Resource]
	if len(vms) == 0 {
		v.missing(KubeVirtMachines)
		return v.state()
	}
	for _, obj := range sortedByName(vms) {
		var vm kubevirtv1.VirtualMachine
		if err := decode(obj, &vm); err != nil {
			v.ready(KubeVirtMachines, obj, false, "VirtualMachineUnreadable", err.Error())
			continue
		}
		v.status["printableStatus"] = string(vm.Status.PrintableStatus)
		halted := vm.Spec.RunStrategy != nil && *vm.Spec.RunStrategy == kubevirtv1.RunStrategyHalted
		switch {
		case halted && vm.Status.PrintableStatus == kubevirtv1.VirtualMachineStatusStopped:
			v.ready(KubeVirtMachines, obj, true, "", "")
		case vm.Status.Ready:
			v.ready(KubeVirtMachines, obj, true, "", "")
		default:
			_, _, message := conditionOf(obj, string(kubevirtv1.VirtualMachineReady))
			if message == "" {
				message = fmt.Sprintf("status %q", vm.Status.PrintableStatus)
			}
			v.ready(KubeVirtMachines, obj, false, "VirtualMachine"+string(vm.Status.PrintableStatus), message)
		}
	}
	for _, obj := range sortedByName(objects[KubeVirtMachineInstances.Resource]) {
		var vmi kubevirtv1.VirtualMachineInstance
		if err := decode(obj, &vmi); err != nil {
			continue // the machine's own state above is what counts
		}
		var addresses []any
		for _, iface := range vmi.Status.Interfaces {
			for _, ip := range iface.IPs {
				addresses = append(addresses, ip)
			}
			if len(iface.IPs) == 0 && iface.IP != "" {
				addresses = append(addresses, iface.IP)
			}
		}
		if len(addresses) > 0 {
			v.status["ipAddresses"] = addresses
		}
		if vmi.Status.NodeName != "" {
			v.status["nodeName"] = vmi.Status.NodeName
		}
	}
	return v.state()
}
