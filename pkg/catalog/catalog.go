// Package catalog watches the platform's ApplicationDefinitions and keeps the set of kinds they
// define served: it builds each definition's kind (pkg/kinds), settles which kinds may be served
// together, publishes the whole set at once, and reports a definition it cannot serve as an Event
// on it and a log line. Data flows one way: definition → catalog → kind → storage.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/cozystack/apps-apiserver/pkg/appobjects"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// Publisher serves exactly the given kinds from now on and returns those it could not serve, by
// definition name (the server's kind router is the implementation).
type Publisher func(p Published) map[string]error

// Published is one settled view of the catalog.
type Published struct {
	// Defined are the kinds to serve from definitions.
	Defined []*kinds.Defined
	// TypedOwnObjects are what the definitions of typed kinds select as each object's own
	// Secrets, Services and Ingresses, by the typed kind's resource.
	TypedOwnObjects map[string]appobjects.Selections
	// TypedLayouts are the release layouts the definitions of typed kinds give them, by the typed
	// kind's resource; a typed kind not here has its own layout. Their schemas are not used.
	TypedLayouts map[string]*release.Layout
}

// Event reasons on an ApplicationDefinition.
const (
	ReasonServed            = "Served"
	ReasonInvalidDefinition = "InvalidDefinition"
	ReasonNameConflict      = "NameConflict"
	ReasonTypedKind         = "TypedKind"
	ReasonSchemaRewritten   = "SchemaRewritten"
)

// coalesce is how long the catalog waits after a change before settling the set, so a burst of
// changes (an operator applying the whole catalog, a definition churned in a loop) is one publish.
const coalesce = 100 * time.Millisecond

// Catalog keeps the served defined kinds in step with the ApplicationDefinitions.
type Catalog struct {
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
	publish  Publisher
	recorder record.EventRecorder
	names    *reservedNames

	mu sync.Mutex
	// entries holds what the catalog knows of each definition, by name.
	entries map[string]*entry
	// settled is set once the definitions listed at start were published; noCRD while listing
	// them finds no ApplicationDefinition resource.
	settled, noCRD atomic.Bool
}

// entry is one definition as last built, and the kind last served from it.
type entry struct {
	resourceVersion string
	def             *kinds.ApplicationDefinition
	built           *kinds.Defined
	err             error
	served          *kinds.Defined
	// reported is the last Event's reason and message, so each outcome is reported once.
	reported string
}

// New returns a catalog of the definitions dyn reads, serving them through publish. Kinds named
// like one of typed, and definitions of a typed kind's application kind, are never served as
// defined kinds. recorder reports on the definitions; nil reports in the log only.
func New(dyn dynamic.Interface, typed []*release.Kind, publish Publisher, recorder record.EventRecorder) *Catalog {
	informer := dynamicinformer.NewFilteredDynamicInformer(dyn, kinds.ApplicationDefinitionGVR, "", 0, cache.Indexers{}, nil).Informer()
	c := &Catalog{
		informer: informer,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "applicationdefinitions"}),
		publish:  publish,
		recorder: recorder,
		names:    newReservedNames(typed),
		entries:  map[string]*entry{},
	}
	_ = informer.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		c.noCRD.Store(apierrors.IsNotFound(err) || meta.IsNoMatchError(err))
		cache.DefaultWatchErrorHandler(ctx, r, err)
	})
	enqueue := func(any) { c.queue.AddAfter("catalog", coalesce) }
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
	})
	return c
}

// Run watches the definitions until ctx ends. Without the ApplicationDefinition CRD the watch
// keeps retrying and nothing is defined; the server serves its typed kinds meanwhile.
func (c *Catalog) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	go c.informer.RunWithContext(ctx)
	go func() {
		for c.next(ctx) {
		}
	}()
	go func() {
		// Settle once after the first list even when it found no definitions.
		if cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced) {
			c.queue.Add("catalog")
		}
	}()
	<-ctx.Done()
}

// Ready reports whether the definitions that existed at start are served (so a replica that just
// started serves the same kinds as the others before it takes requests), or that there is no
// ApplicationDefinition CRD to read them from (then the server serves its typed kinds).
func (c *Catalog) Ready() error {
	if c.settled.Load() || c.noCRD.Load() {
		return nil
	}
	return errors.New("the ApplicationDefinitions are not served yet")
}

func (c *Catalog) next(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	c.sync(ctx)
	c.queue.Forget(key)
	return true
}

// sync settles and publishes the set of defined kinds from the definitions as they are now.
func (c *Catalog) sync(ctx context.Context) {
	logger := klog.FromContext(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	objects := c.informer.GetStore().List()
	defs := make([]*unstructured.Unstructured, 0, len(objects))
	for _, o := range objects {
		if u, ok := o.(*unstructured.Unstructured); ok {
			defs = append(defs, u)
		}
	}
	// Older definitions keep their names when two claim the same: what was served stays served.
	sort.Slice(defs, func(i, j int) bool {
		ti, tj := defs[i].GetCreationTimestamp(), defs[j].GetCreationTimestamp()
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return defs[i].GetName() < defs[j].GetName()
	})
	seen := map[string]bool{}
	for _, obj := range defs {
		name := obj.GetName()
		seen[name] = true
		e := c.entries[name]
		if e == nil {
			e = &entry{}
			c.entries[name] = e
		}
		if (e.built == nil && e.err == nil) || e.resourceVersion != obj.GetResourceVersion() {
			e.resourceVersion = obj.GetResourceVersion()
			e.def, e.built, e.err = build(obj)
		}
	}
	typed := c.settleTyped(defs)
	claims := c.names.claims(typed.layout)
	var served []*kinds.Defined
	outcomes := map[string]outcome{}
	for _, obj := range defs {
		name := obj.GetName()
		if out, ok := typed.outcomes[name]; ok {
			outcomes[name] = out
			continue
		}
		out := c.settle(c.entries[name], claims)
		if out.defined != nil {
			served = append(served, out.defined)
		}
		outcomes[name] = out
	}
	for name := range c.entries {
		if !seen[name] {
			delete(c.entries, name)
		}
	}
	failed := c.publish(Published{Defined: served, TypedOwnObjects: typed.ownObjects, TypedLayouts: typed.byResource()})
	for _, obj := range defs {
		name := obj.GetName()
		out, e := outcomes[name], c.entries[name]
		if err := failed[name]; err != nil {
			out = outcome{eventType: corev1.EventTypeWarning, reason: ReasonInvalidDefinition, message: fmt.Sprintf("not served: %v", err)}
		} else if out.defined != nil {
			e.served = out.defined
		}
		c.report(ctx, obj, e, out)
	}
	if c.informer.HasSynced() {
		c.settled.Store(true)
		c.noCRD.Store(false)
	}
	logger.V(2).Info("Catalog settled", "definitions", len(defs), "served", len(served)-len(failed))
}

// build makes the kind of one definition.
func build(obj *unstructured.Unstructured) (*kinds.ApplicationDefinition, *kinds.Defined, error) {
	def, err := kinds.DecodeApplicationDefinition(obj)
	if err != nil {
		return nil, nil, err
	}
	built, err := kinds.FromDefinition(def)
	return def, built, err
}

// outcome is what became of a definition in one sync, and what to report.
type outcome struct {
	defined                    *kinds.Defined
	eventType, reason, message string
}

// settle decides what a definition serves: its kind as now defined if it is valid and its names
// are free, else the kind it served before if that is still free, else nothing.
func (c *Catalog) settle(e *entry, claims *claimSet) outcome {
	var out outcome
	switch {
	case e.err != nil:
		out = outcome{eventType: corev1.EventTypeWarning, reason: ReasonInvalidDefinition, message: e.err.Error()}
	default:
		if conflict := claims.conflict(e.built); conflict != "" {
			out = outcome{eventType: corev1.EventTypeWarning, reason: ReasonNameConflict, message: conflict}
		} else {
			claims.claim(e.built)
			out = outcome{defined: e.built, eventType: corev1.EventTypeNormal, reason: ReasonServed,
				message: fmt.Sprintf("served as %s (%s) in apps.cozy.io/v1alpha1", e.built.Kind.Kind, e.built.Kind.Resource)}
			if len(e.built.SchemaNotes) > 0 {
				out.reason = ReasonSchemaRewritten
				out.message += fmt.Sprintf("; its schema was made structural: %v", e.built.SchemaNotes)
			}
			if len(e.built.SelectionNotes) > 0 {
				out.message += fmt.Sprintf("; selectors of its own objects not used: %v", e.built.SelectionNotes)
			}
			return out
		}
	}
	if e.served != nil && claims.conflict(e.served) == "" {
		claims.claim(e.served)
		out.defined = e.served
		out.message += fmt.Sprintf("; still serving %s (%s) as defined at generation %d", e.served.Kind.Kind, e.served.Kind.Resource, e.served.Generation)
	}
	return out
}

// report records an outcome on the definition once per change: an Event and a log line.
func (c *Catalog) report(ctx context.Context, obj *unstructured.Unstructured, e *entry, out outcome) {
	key := out.reason + "\x00" + out.message
	if e.reported == key {
		return
	}
	e.reported = key
	logger := klog.FromContext(ctx)
	if out.eventType == corev1.EventTypeWarning {
		logger.Info("ApplicationDefinition not served as written", "definition", obj.GetName(), "reason", out.reason, "message", out.message)
	} else {
		logger.V(2).Info("ApplicationDefinition", "definition", obj.GetName(), "reason", out.reason, "message", out.message)
	}
	if c.recorder != nil {
		c.recorder.Event(obj, out.eventType, out.reason, truncate(out.message, 1024))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
