package registry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/klog/v2"

	"github.com/cozystack/apps-apiserver/pkg/crossnamespace"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/releasecache"
)

// freshnessTimeout is how long a read that names a resourceVersion newer than the cache waits for
// the cache to catch up, as kube-apiserver's watch cache does, before answering 504.
const freshnessTimeout = 3 * time.Second

// Get returns the object. Without a resourceVersion the read is consistent, as in kube-apiserver:
// it reflects every write committed before it, whichever replica made it. With one, it is served
// from the cache once the cache is at least that recent.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	namespace := genericapirequest.NamespaceValue(ctx)
	if options.ResourceVersion == "" {
		// Read from kube-apiserver: it does not need the cache, loaded or not.
		return r.getConsistent(ctx, namespace, name)
	}
	if err := r.awaitSynced(ctx); err != nil {
		return nil, err
	}
	if err := r.awaitResourceVersion(ctx, options.ResourceVersion); err != nil {
		return nil, err
	}
	obj, ok := r.cache.Get(r.kind.Kind, namespace, name)
	if !ok {
		return nil, apierrors.NewNotFound(r.resource, name)
	}
	return obj.DeepCopyObject(), nil
}

// List returns the objects selected by labels and fields, one page at a time when a limit is set.
// As in kube-apiserver, every page of a paged list shows the state at the first page's
// resourceVersion (410 Expired once the event log no longer reaches back to it), and
// resourceVersionMatch=Exact reads the state at the given resourceVersion.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	namespace := genericapirequest.NamespaceValue(ctx)
	predicate := r.predicate(options)
	if err := r.awaitSynced(ctx); err != nil {
		return nil, err
	}
	scope, err := r.scopeFor(ctx)
	if err != nil {
		return nil, err
	}
	objects, rv, fromKey, err := r.listState(ctx, namespace, options)
	if err != nil {
		return nil, err
	}
	visible := visibleNamespaces(scope, objects)
	type keyed struct {
		key     string
		obj     runtime.Object
		matches bool
	}
	// Every visible object after the start key, matching or not: as in kube-apiserver, a full page
	// gets a continue token when any object follows it in storage, even one the selectors would
	// leave out (then the last page is empty).
	items := make([]keyed, 0, len(objects))
	for _, obj := range objects {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, err
		}
		key := "/" + m.GetNamespace() + "/" + m.GetName()
		if (fromKey != "" && key < fromKey) || (visible != nil && !visible[m.GetNamespace()]) {
			continue
		}
		ok, err := predicate.Matches(obj)
		items = append(items, keyed{key, obj, err == nil && ok})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })

	list := r.kind.NewList()
	var page []runtime.Object
	limit := int(options.Limit)
	if options.ResourceVersion == "0" && options.Continue == "" && options.ResourceVersionMatch != metav1.ResourceVersionMatchExact {
		// As kube-apiserver's watch cache: a list of any state (resourceVersion=0) is one page.
		limit = 0
	}
	for i, it := range items {
		if limit > 0 && len(page) == limit {
			// The next page starts at this item's key.
			token, err := storage.EncodeContinue(it.key, "/", int64(rv))
			if err != nil {
				return nil, err
			}
			lm, _ := meta.ListAccessor(list)
			lm.SetContinue(token)
			if predicate.Empty() {
				// As kube-apiserver: with selectors the count would be a guess, so none is given.
				remaining := int64(len(items) - i)
				lm.SetRemainingItemCount(&remaining)
			}
			break
		}
		if it.matches {
			page = append(page, releasecache.ForList(it.obj))
		}
	}
	if err := meta.SetList(list, page); err != nil {
		return nil, err
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, err
	}
	lm.SetResourceVersion(fmt.Sprint(rv))
	return list, nil
}

// scopeFor decides a list or watch on the user's own rights (see package crossnamespace): nil
// when it may show all it selects, a scope when it goes across namespaces and may show only some,
// 403 when it names a namespace where the user may not make it.
func (r *REST) scopeFor(ctx context.Context) (*crossnamespace.Scope, error) {
	if r.filter == nil {
		return nil, nil
	}
	scope, err := r.filter.ScopeFor(ctx)
	if err != nil {
		return nil, apierrors.NewForbidden(r.resource, "", err)
	}
	return scope, nil
}

// visibleNamespaces decides which of the objects' namespaces the scope shows; nil without a scope.
func visibleNamespaces(scope *crossnamespace.Scope, objects []runtime.Object) map[string]bool {
	if scope == nil {
		return nil
	}
	seen := map[string]bool{}
	var namespaces []string
	for _, obj := range objects {
		if m, err := meta.Accessor(obj); err == nil && !seen[m.GetNamespace()] {
			seen[m.GetNamespace()] = true
			namespaces = append(namespaces, m.GetNamespace())
		}
	}
	return scope.Decide(namespaces)
}

// getConsistent makes a GET without resourceVersion consistent: see readCurrent.
func (r *REST) getConsistent(ctx context.Context, namespace, name string) (runtime.Object, error) {
	obj, _, err := r.readCurrent(ctx, namespace, name)
	return obj, err
}

// readCurrent returns the object at its release's current revision, and the release as read: it
// asks kube-apiserver for the release's metadata only (a quorum read, as the full release would
// be, at a fraction of its decoding cost) and serves the cached conversion once the cache holds
// that revision or a newer one. Only when the cache cannot show it in time (or never will: a
// release it does not convert) is the whole release read and converted; then the whole release is
// returned with it.
func (r *REST) readCurrent(ctx context.Context, namespace, name string) (runtime.Object, releaseMeta, error) {
	m, err := r.releaseMetadata(ctx, namespace, name)
	if err != nil {
		return nil, nil, err
	}
	if obj, ok := r.cachedAtLeast(namespace, name, m.GetResourceVersion()); ok {
		return obj, m, nil
	}
	if r.awaitResourceVersion(ctx, m.GetResourceVersion()) == nil {
		if obj, ok := r.cachedAtLeast(namespace, name, m.GetResourceVersion()); ok {
			return obj, m, nil
		}
	}
	hr, err := r.releases.Namespace(namespace).Get(ctx, r.kind.ReleaseName(name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && !r.kind.Owns(hr)) {
		return nil, nil, apierrors.NewNotFound(r.resource, name)
	}
	if err != nil {
		return nil, nil, r.translateError(err, name)
	}
	obj, err := r.toObject(ctx, hr)
	return obj, hr, err
}

// cachedAtLeast returns a copy of the cached object if it is of the given revision or newer (from
// the upstream watch, or from this server's write of it that the watch has not delivered yet).
func (r *REST) cachedAtLeast(namespace, name, resourceVersion string) (runtime.Object, bool) {
	want, err := releasecache.ParseResourceVersion(resourceVersion)
	if err != nil {
		return nil, false
	}
	return r.cache.GetAtLeast(r.kind.Kind, namespace, name, want)
}

// releaseMetadata reads the release of an object, metadata only: a quorum read like a read of
// the whole release, at a fraction of its decoding cost. It answers 404 for a release the kind
// does not own.
func (r *REST) releaseMetadata(ctx context.Context, namespace, name string) (*metav1.PartialObjectMetadata, error) {
	m, err := r.releaseMeta.Namespace(namespace).Get(ctx, r.kind.ReleaseName(name), metav1.GetOptions{})
	if err != nil {
		return nil, r.translateError(err, name)
	}
	if !r.kind.Owns(m) {
		return nil, apierrors.NewNotFound(r.resource, name)
	}
	return m, nil
}

// toObject converts a release for a read or a delete. A release whose values do not decode is
// still served (see release.UnreadableError), so its tenant can see what is wrong and delete it.
func (r *REST) toObject(ctx context.Context, hr *unstructured.Unstructured) (runtime.Object, error) {
	obj, err := r.kind.ToObject(r.gv, hr)
	var unreadable *release.UnreadableError
	if errors.As(err, &unreadable) {
		klog.FromContext(ctx).V(2).Info("Serving a release whose values do not decode", "err", err)
		return obj, nil
	}
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("reading HelmRelease %s/%s: %w", hr.GetNamespace(), hr.GetName(), err))
	}
	return obj, nil
}

// awaitConsistent makes a list without resourceVersion consistent: it asks kube-apiserver which of
// the kind's HelmReleases exist at which revision (metadata only) and waits until the cache has
// caught up with that answer.
func (r *REST) awaitConsistent(ctx context.Context, namespace string) error {
	upstream, err := r.releaseMeta.Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: r.kind.ReleaseSelector()})
	if err != nil {
		return r.translateError(err, "")
	}
	listRV, err := releasecache.ParseResourceVersion(upstream.ResourceVersion)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	listed := make([]releasecache.Listed, 0, len(upstream.Items))
	for _, item := range upstream.Items {
		name, ok := r.kind.ObjectName(item.Name)
		if !ok {
			continue
		}
		rv, err := releasecache.ParseResourceVersion(item.ResourceVersion)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		listed = append(listed, releasecache.Listed{Namespace: item.Namespace, Name: name, RV: rv})
	}
	waitCtx, cancel := context.WithTimeout(ctx, freshnessTimeout)
	defer cancel()
	if err := r.cache.WaitCovers(waitCtx, r.kind.Kind, namespace, listed, listRV); err != nil {
		return apierrors.NewTimeoutError("the server's cache did not catch up with kube-apiserver in time", 1)
	}
	return nil
}

// listState returns the objects a list reads, the resourceVersion they are at and the key a
// continued list starts from. "" is a consistent read of the current state, "0" the cache as it
// is, NotOlderThan waits for the cache to reach the version, Exact and continue tokens read the
// state at their version.
func (r *REST) listState(ctx context.Context, namespace string, options *metainternalversion.ListOptions) ([]runtime.Object, uint64, string, error) {
	if options.Continue != "" {
		// The first page made the read consistent; later pages read its snapshot.
		key, rv, err := storage.DecodeContinue(options.Continue, "/")
		if err != nil {
			return nil, 0, "", apierrors.NewBadRequest(fmt.Sprintf("invalid continue token: %v", err))
		}
		if options.ResourceVersion != "" && options.ResourceVersion != "0" {
			return nil, 0, "", apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
		}
		if rv <= 0 {
			// kube-apiserver's token for "the latest state from this key" (after a 410 with
			// what remained): a consistent read.
			if err := r.awaitConsistent(ctx, namespace); err != nil {
				return nil, 0, "", err
			}
			objects, current := r.cache.List(r.kind.Kind, namespace)
			return objects, current, key, nil
		}
		objects, err := r.listAt(ctx, namespace, uint64(rv))
		if apierrors.IsResourceExpired(err) {
			return nil, 0, "", apierrors.NewResourceExpired(fmt.Sprintf("the provided continue parameter is too old to display a consistent list result: %v", err))
		}
		return objects, uint64(rv), key, err
	}
	// As kube-apiserver reading etcd: a resourceVersion with a limit and no match is a read at
	// exactly that version (the legacy meaning kept for paging clients).
	legacyExact := options.ResourceVersionMatch == "" && options.Limit > 0 && options.ResourceVersion != "" && options.ResourceVersion != "0"
	if options.ResourceVersionMatch == metav1.ResourceVersionMatchExact || legacyExact {
		rv, err := releasecache.ParseResourceVersion(options.ResourceVersion)
		if err != nil {
			return nil, 0, "", apierrors.NewBadRequest(err.Error())
		}
		objects, err := r.listAt(ctx, namespace, rv)
		return objects, rv, "", err
	}
	if options.ResourceVersion == "" {
		if err := r.awaitConsistent(ctx, namespace); err != nil {
			return nil, 0, "", err
		}
	} else if err := r.awaitResourceVersion(ctx, options.ResourceVersion); err != nil {
		return nil, 0, "", err
	}
	objects, rv := r.cache.List(r.kind.Kind, namespace)
	return objects, rv, "", nil
}

// listAt reads the kind's state at rv once the cache has reached it.
func (r *REST) listAt(ctx context.Context, namespace string, rv uint64) ([]runtime.Object, error) {
	if err := r.awaitResourceVersion(ctx, strconv.FormatUint(rv, 10)); err != nil {
		return nil, err
	}
	return r.cache.ListAt(r.kind.Kind, namespace, rv)
}

// syncTimeout is how long a read waits for the cache's initial list before answering 503, as
// kube-apiserver's cacher does while it initializes.
const syncTimeout = 3 * time.Second

// awaitSynced holds a read until the cache has loaded its initial list: an empty answer from an
// empty cache would tell clients that nothing exists.
func (r *REST) awaitSynced(ctx context.Context) error {
	waitCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if err := r.cache.AwaitSynced(waitCtx); err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("the server is still loading %s from kube-apiserver; retry shortly", r.resource))
	}
	return nil
}

// awaitResourceVersion waits until the cache reflects a client-supplied resourceVersion.
func (r *REST) awaitResourceVersion(ctx context.Context, resourceVersion string) error {
	rv, err := releasecache.ParseResourceVersion(resourceVersion)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if rv == 0 {
		return nil
	}
	waitCtx, cancel := context.WithTimeout(ctx, freshnessTimeout)
	defer cancel()
	if err := r.cache.AwaitResourceVersion(waitCtx, rv); err != nil {
		return storage.NewTooLargeResourceVersionError(rv, r.cache.ResourceVersion(), 1)
	}
	return nil
}
