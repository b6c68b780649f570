package workloadstatus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// EventSource is how the events that explain an apps.cozy.io object reach it: Flux's events on its
// HelmRelease and the warnings of its workload objects are copied as events of the object (same
// uid, its kind), so `kubectl describe` shows a tenant "install failed: …" or "import failed"
// without rights on HelmReleases or workload objects. Copies are named after the event they copy,
// so every replica writes the same copy.
type EventSource struct {
	projector *Projector
	events    kubernetes.Interface
	gv        string
	// kindOf finds the kind, typed or defined, of a release by its application-kind label.
	kindOf func(applicationKind string) *release.Kind
}

// reportingController marks the copies, so they are never copied again.
const reportingController = "apps.cozy.io/cozy-apiserver"

// NewEventSource copies Flux's events on the releases of every kind kindOf knows (the kinds
// served now, typed or defined) and the warnings of the projector's workload objects; gv is the
// kinds' apiVersion.
func NewEventSource(p *Projector, client kubernetes.Interface, gv string, kindOf func(applicationKind string) *release.Kind) *EventSource {
	return &EventSource{projector: p, events: client, gv: gv, kindOf: kindOf}
}

// Run watches events until ctx ends: one watch on HelmReleases' events and one on warnings.
func (s *EventSource) Run(ctx context.Context) {
	ctx = klog.NewContext(ctx, klog.FromContext(ctx).WithName("workload-events"))
	for _, selector := range []string{"involvedObject.kind=HelmRelease", "type=" + corev1.EventTypeWarning} {
		selector := selector
		factory := informers.NewSharedInformerFactoryWithOptions(s.events, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = selector
		}))
		informer := factory.Core().V1().Events().Informer()
		handle := func(obj any) {
			if e, ok := obj.(*corev1.Event); ok {
				if err := s.copyEvent(ctx, e); err != nil && ctx.Err() == nil {
					klog.FromContext(ctx).V(2).Info("Copying event", "event", e.Namespace+"/"+e.Name, "err", err)
				}
			}
		}
		if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: handle, UpdateFunc: func(_, obj any) { handle(obj) }}); err != nil {
			klog.FromContext(ctx).Error(err, "Watching events")
			return
		}
		factory.Start(ctx.Done())
		defer factory.Shutdown()
	}
	<-ctx.Done()
}

// copyEvent copies e onto the apps.cozy.io object whose release or workload it is about.
func (s *EventSource) copyEvent(ctx context.Context, e *corev1.Event) error {
	if e.ReportingController == reportingController {
		return nil // a copy
	}
	about := e.InvolvedObject
	releaseName := about.Name
	prefix := ""
	if about.Kind != "HelmRelease" {
		name, ok := s.projector.releaseOfWorkload(about.APIVersion, about.Kind, about.Namespace, about.Name)
		if !ok {
			return nil
		}
		releaseName, prefix = name, about.Kind+" "+about.Name+": "
	}
	hr, err := s.projector.releases.Namespace(about.Namespace).Get(ctx, releaseName, metav1.GetOptions{})
	if err != nil {
		return client404(err)
	}
	kind := s.kindOf(hr.GetLabels()[release.LabelApplicationKind])
	if kind == nil || !kind.Owns(hr) {
		return nil
	}
	objectName, _ := kind.ObjectName(hr.GetName())
	sum := sha256.Sum256([]byte(e.UID))
	copied := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%s", objectName, hex.EncodeToString(sum[:8])), Namespace: about.Namespace},
		InvolvedObject: corev1.ObjectReference{APIVersion: s.gv, Kind: kind.Kind, Name: objectName, Namespace: about.Namespace,
			UID: hr.GetUID()},
		Reason: e.Reason, Message: prefix + e.Message, Type: e.Type, Count: e.Count,
		FirstTimestamp: e.FirstTimestamp, LastTimestamp: e.LastTimestamp, EventTime: e.EventTime, Series: e.Series,
		Source:              corev1.EventSource{Component: sourceComponent(e)},
		ReportingController: reportingController, ReportingInstance: "cozy-apiserver", Action: e.Action,
	}
	if copied.FirstTimestamp.IsZero() && copied.EventTime.IsZero() {
		copied.FirstTimestamp = metav1.NewTime(time.Now())
	}
	if copied.LastTimestamp.IsZero() {
		copied.LastTimestamp = copied.FirstTimestamp
	}
	events := s.events.CoreV1().Events(about.Namespace)
	_, err = events.Create(ctx, copied, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	existing, err := events.Get(ctx, copied.Name, metav1.GetOptions{})
	if err != nil {
		return client404(err)
	}
	if existing.Count == copied.Count && existing.Message == copied.Message && existing.LastTimestamp.Equal(&copied.LastTimestamp) {
		return nil
	}
	existing.Count, existing.Message, existing.LastTimestamp, existing.Series = copied.Count, copied.Message, copied.LastTimestamp, copied.Series
	_, err = events.Update(ctx, existing, metav1.UpdateOptions{})
	return client404(err)
}

// sourceComponent names who reported the original event.
func sourceComponent(e *corev1.Event) string {
	if e.Source.Component != "" {
		return e.Source.Component
	}
	return e.ReportingController
}

// client404 drops not-found errors: what the event was about is gone.
func client404(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// releaseOfWorkload finds the release of a workload object the projector watches.
func (p *Projector) releaseOfWorkload(apiVersion, kind, namespace, name string) (string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for gvr, informer := range p.informers {
		if gvr.GroupVersion().String() != apiVersion || !strings.EqualFold(p.kindName(gvr), kind) {
			continue
		}
		item, exists, err := informer.GetStore().GetByKey(namespace + "/" + name)
		if err != nil || !exists {
			return "", false
		}
		keys, _ := releaseKeys(item)
		if len(keys) != 1 {
			return "", false
		}
		_, releaseName, _ := strings.Cut(keys[0], "/")
		return releaseName, true
	}
	return "", false
}

// kindName is the workload kind declared for gvr.
func (p *Projector) kindName(gvr schema.GroupVersionResource) string {
	for _, k := range p.kinds {
		for _, w := range k.Workloads {
			if w.Resource == gvr {
				return w.Kind
			}
		}
	}
	return ""
}
