// Package tenantnamespaces serves `tenantnamespaces`: the tenant namespaces a user may work in,
// so that a tenant without any cluster right (listing Namespaces needs one) learns them, as
// OpenShift's projects do. A namespace is shown when it is a tenant namespace (the server's
// --tenant-namespace-selector) and the authorizer chain says the user may list one of the served
// kinds there on their own rights (not through the grant to every authenticated user): the
// decision the lists across namespaces make (pkg/crossnamespace), with its caches. Nothing else
// about other namespaces is ever shown: an invisible namespace is not found, whatever the
// selectors, and an open watch sees a namespace added or removed when the user's rights or the
// namespaces change (within the refresh interval).
package tenantnamespaces

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/rest"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// Kind and Resource name the served type.
const (
	Kind     = "TenantNamespace"
	Resource = "tenantnamespaces"
)

// Visibility decides which of the namespaces the request's user may see.
type Visibility func(ctx context.Context, namespaces []string) (map[string]bool, error)

// REST serves tenantnamespaces: get, list and watch, cluster-scoped, read only.
type REST struct {
	rest.TableConvertor
	gv         schema.GroupVersion
	namespaces corev1listers.NamespaceLister
	tenant     labels.Selector
	visible    Visibility
	refresh    time.Duration
}

// New returns the storage: tenant namespaces are those of the lister that tenant selects, shown
// as visible decides, asked again every refresh by an open watch.
func New(gv schema.GroupVersion, namespaces corev1listers.NamespaceLister, tenant labels.Selector, visible Visibility, refresh time.Duration) *REST {
	return &REST{
		TableConvertor: rest.NewDefaultTableConvertor(gv.WithResource(Resource).GroupResource()),
		gv:             gv, namespaces: namespaces, tenant: tenant, visible: visible, refresh: refresh,
	}
}

var (
	_ rest.Getter  = &REST{}
	_ rest.Lister  = &REST{}
	_ rest.Watcher = &REST{}
	_ rest.Scoper  = &REST{}
)

// New returns an empty TenantNamespace.
func (r *REST) New() runtime.Object {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.gv.WithKind(Kind))
	return u
}

// NewList returns an empty list.
func (r *REST) NewList() runtime.Object {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(r.gv.WithKind(Kind + "List"))
	return l
}

// Destroy releases nothing.
func (r *REST) Destroy() {}

// NamespaceScoped is false: tenant namespaces are listed for the whole cluster.
func (r *REST) NamespaceScoped() bool { return false }

// GetSingularName is the singular for kubectl.
func (r *REST) GetSingularName() string { return "tenantnamespace" }

// Get returns the tenant namespace if the user may see it; not found otherwise, so that no
// namespace's existence is told to a user who may not work there.
func (r *REST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	shown, err := r.shown(ctx, fields.OneTermEqualSelector("metadata.name", name))
	if err != nil {
		return nil, err
	}
	if len(shown) == 0 {
		return nil, apierrors.NewNotFound(r.gv.WithResource(Resource).GroupResource(), name)
	}
	return shown[0], nil
}

// List returns the tenant namespaces the user may see, by name; selectors only narrow it.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	var fieldSelector fields.Selector
	if options != nil {
		fieldSelector = options.FieldSelector
		if options.LabelSelector != nil && !options.LabelSelector.Empty() {
			// Tenant namespaces carry no labels here: a label selector selects none.
			return r.NewList(), nil
		}
	}
	shown, err := r.shown(ctx, fieldSelector)
	if err != nil {
		return nil, err
	}
	list := r.NewList().(*unstructured.UnstructuredList)
	for _, obj := range shown {
		list.Items = append(list.Items, *obj)
	}
	return list, nil
}

// shown are the tenant namespaces the user may see that the field selector (metadata.name only)
// selects, sorted by name.
func (r *REST) shown(ctx context.Context, fieldSelector fields.Selector) ([]*unstructured.Unstructured, error) {
	all, err := r.namespaces.List(r.tenant)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	var candidates []string
	byName := map[string]*unstructured.Unstructured{}
	for _, ns := range all {
		if fieldSelector != nil && !fieldSelector.Empty() && !fieldSelector.Matches(fields.Set{"metadata.name": ns.Name}) {
			continue
		}
		obj := r.New().(*unstructured.Unstructured)
		obj.SetName(ns.Name)
		obj.SetUID(ns.UID)
		obj.SetCreationTimestamp(ns.CreationTimestamp)
		byName[ns.Name] = obj
		candidates = append(candidates, ns.Name)
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	visible, err := r.visible(ctx, candidates)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, name := range candidates {
		if visible[name] {
			out = append(out, byName[name])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// Watch sends the tenant namespaces the user may see now as ADDED events, whatever
// resourceVersion it is asked from (there is no history to replay), then ADDED and DELETED as
// namespaces or the user's rights change, asked every refresh interval. No bookmarks.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	var fieldSelector fields.Selector
	if options != nil {
		fieldSelector = options.FieldSelector
		if options.LabelSelector != nil && !options.LabelSelector.Empty() {
			fieldSelector = fields.OneTermEqualSelector("metadata.name", "")
		}
	}
	initial, err := r.shown(ctx, fieldSelector)
	if err != nil {
		return nil, err
	}
	w := &watcher{result: make(chan watch.Event), done: make(chan struct{})}
	go r.follow(ctx, w, initial, fieldSelector)
	return w, nil
}

// watcher is one open watch: events go out on result until the client stops it.
type watcher struct {
	result   chan watch.Event
	done     chan struct{}
	stopOnce sync.Once
}

// ResultChan is where the events come.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

// Stop ends the watch; the follower closes the result channel.
func (w *watcher) Stop() { w.stopOnce.Do(func() { close(w.done) }) }

func (r *REST) follow(ctx context.Context, w *watcher, initial []*unstructured.Unstructured, fieldSelector fields.Selector) {
	defer close(w.result)
	current := map[string]*unstructured.Unstructured{}
	for _, obj := range initial {
		if !send(ctx, w, watch.Added, obj) {
			return
		}
		current[obj.GetName()] = obj
	}
	ticker := time.NewTicker(r.refresh)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		case <-ticker.C:
		}
		now, err := r.shown(ctx, fieldSelector)
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			return
		}
		if err != nil {
			continue
		}
		next := map[string]*unstructured.Unstructured{}
		for _, obj := range now {
			next[obj.GetName()] = obj
			if old, ok := current[obj.GetName()]; !ok || old.GetUID() != obj.GetUID() {
				if !send(ctx, w, watch.Added, obj) {
					return
				}
			}
		}
		var gone []string
		for name := range current {
			if _, ok := next[name]; !ok {
				gone = append(gone, name)
			}
		}
		sort.Strings(gone)
		for _, name := range gone {
			if !send(ctx, w, watch.Deleted, current[name]) {
				return
			}
		}
		current = next
	}
}

// send delivers one event unless the watch or request ended.
func send(ctx context.Context, w *watcher, t watch.EventType, obj runtime.Object) bool {
	select {
	case <-ctx.Done():
		return false
	case <-w.done:
		return false
	case w.result <- watch.Event{Type: t, Object: obj}:
		return true
	}
}
