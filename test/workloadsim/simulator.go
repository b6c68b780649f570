// Package workloadsim is the local platform's workload simulator. Nothing in the local control
// plane runs virtual machines, disks, buckets or clusters, so it stands in for their controllers
// (KubeVirt, CDI, COSI, Cluster API and Kamaji): when the charts create workload objects, it
// writes the statuses those controllers would write once the workload is up. It is for `make run`
// only, and clearly not the real thing; e2e tests write workload statuses themselves.
package workloadsim

import (
	"context"
	"fmt"
	"reflect"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// readyStatus returns the status a workload's controller writes once the workload is up, and
// whether the object needs it; obj is a copy the function may read freely.
type readyStatus func(obj *unstructured.Unstructured) (map[string]any, bool)

// workload is one simulated type.
type workload struct {
	gvr    schema.GroupVersionResource
	status readyStatus
	// after runs once the status is written, for objects the controller creates in turn.
	after func(ctx context.Context, client dynamic.Interface, obj *unstructured.Unstructured) error
}

// Run simulates the workload controllers until ctx ends.
func Run(ctx context.Context, client dynamic.Interface) error {
	factory := dynamicinformer.NewDynamicSharedInformerFactory(client, 10*time.Minute)
	for _, w := range workloads() {
		w := w
		informer := factory.ForResource(w.gvr).Informer()
		handle := func(obj any) {
			u, ok := obj.(*unstructured.Unstructured)
			if !ok || u.GetDeletionTimestamp() != nil {
				return
			}
			if err := reconcile(ctx, client, w, u.DeepCopy()); err != nil && ctx.Err() == nil {
				klog.FromContext(ctx).Error(err, "Workload simulator", "resource", w.gvr.Resource, "namespace", u.GetNamespace(), "name", u.GetName())
			}
		}
		if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    handle,
			UpdateFunc: func(_, obj any) { handle(obj) },
		}); err != nil {
			return err
		}
	}
	// KubeVirt starts a new instance when one of a machine that should run ends (a restart).
	if _, err := factory.ForResource(VirtualMachineInstances).Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			vmi, ok := obj.(*unstructured.Unstructured)
			if !ok {
				return
			}
			vm, err := client.Resource(VirtualMachines).Namespace(vmi.GetNamespace()).Get(ctx, vmi.GetName(), metav1.GetOptions{})
			if err == nil {
				err = syncInstance(ctx, client, vm)
			}
			if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
				klog.FromContext(ctx).Error(err, "Workload simulator: restarting an instance", "namespace", vmi.GetNamespace(), "name", vmi.GetName())
			}
		},
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	for gvr, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("workload simulator: %s did not sync", gvr.Resource)
		}
	}
	<-ctx.Done()
	factory.Shutdown()
	return nil
}

// Settle makes one pass over the workload objects in namespace and writes the ready statuses Run
// would, for tests that play the workload controllers for their own namespace only.
func Settle(ctx context.Context, client dynamic.Interface, namespace string) error {
	for _, w := range workloads() {
		list, err := client.Resource(w.gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing %s: %w", w.gvr.Resource, err)
		}
		for i := range list.Items {
			if err := reconcile(ctx, client, w, &list.Items[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func reconcile(ctx context.Context, client dynamic.Interface, w workload, obj *unstructured.Unstructured) error {
	status, ok := w.status(obj)
	if !ok {
		return nil
	}
	current, _, _ := unstructured.NestedMap(obj.Object, "status")
	if !covers(current, status) {
		merged := map[string]any{}
		for k, v := range current {
			merged[k] = v
		}
		for k, v := range status {
			merged[k] = v
		}
		obj.Object["status"] = merged
		updated, err := client.Resource(w.gvr).Namespace(obj.GetNamespace()).UpdateStatus(ctx, obj, metav1.UpdateOptions{FieldManager: "workload-simulator"})
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil // the next event brings the current object
		}
		if err != nil {
			return err
		}
		obj = updated
	}
	if w.after != nil {
		return w.after(ctx, client, obj)
	}
	return nil
}

// covers reports whether current already holds every field of want, ignoring conditions'
// transition times.
func covers(current, want map[string]any) bool {
	for k, v := range want {
		if k == "conditions" {
			if !sameConditions(current[k], v) {
				return false
			}
			continue
		}
		if !reflect.DeepEqual(current[k], v) {
			return false
		}
	}
	return true
}

func sameConditions(a, b any) bool {
	strip := func(v any) []any {
		list, _ := v.([]any)
		out := make([]any, 0, len(list))
		for _, c := range list {
			m, _ := c.(map[string]any)
			out = append(out, map[string]any{"type": m["type"], "status": m["status"], "reason": m["reason"]})
		}
		return out
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// condition is a condition as the workload controllers write them: reason and message only when
// there is one (Cluster API's CRDs refuse empty ones).
func condition(typ, status, reason, message string) map[string]any {
	c := map[string]any{"type": typ, "status": status, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
	if reason != "" {
		c["reason"] = reason
	}
	if message != "" {
		c["message"] = message
	}
	return c
}
