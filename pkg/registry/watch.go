package registry

import (
	"context"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/cozystack/apps-apiserver/pkg/releasecache"
)

// Watch streams changes of the kind, honouring resourceVersion, sendInitialEvents, bookmarks and
// label and field selectors as kube-apiserver's watch cache does. A watch whose own deadline
// (timeoutSeconds) passes before it could start answers as kube-apiserver's watch cache does for a
// custom resource: the watch starts (200) and its one event is an ERROR with the context's error,
// never a 5xx answer to a client's parameter.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	w, err := r.startWatch(ctx, options)
	if err != nil && ctx.Err() != nil {
		return expiredWatch(ctx.Err()), nil
	}
	return w, err
}

// expiredWatch is a watch whose only event reports that its context ended before it started.
func expiredWatch(cause error) watch.Interface {
	events := make(chan watch.Event, 1)
	events <- watch.Event{Type: watch.Error, Object: &metav1.Status{
		Status: metav1.StatusFailure, Message: cause.Error(), Reason: metav1.StatusReasonInternalError, Code: http.StatusInternalServerError,
	}}
	close(events)
	return watch.NewProxyWatcher(events)
}

// startWatch validates the watch's options, brings the cache to the state it starts from and
// registers it with the cache.
func (r *REST) startWatch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	predicate := r.predicate(options)
	opts := releasecache.WatchOptions{
		Kind:      r.kind.Kind,
		Namespace: genericapirequest.NamespaceValue(ctx),
		NewObject: r.kind.New,
		Bookmarks: options.AllowWatchBookmarks,
		Matches: func(obj runtime.Object) bool {
			ok, err := predicate.Matches(obj)
			return err == nil && ok
		},
	}
	rv, err := releasecache.ParseResourceVersion(options.ResourceVersion)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	scope, err := r.scopeFor(ctx)
	if err != nil {
		return nil, err
	}
	if scope != nil {
		opts.Scope, opts.ScopeRefresh = scope, r.filter.RefreshInterval()
	}
	if err := r.awaitSynced(ctx); err != nil {
		return nil, err
	}
	switch {
	case options.SendInitialEvents != nil && *options.SendInitialEvents:
		if err := r.awaitInitialState(ctx, opts.Namespace, options.ResourceVersion); err != nil {
			return nil, err
		}
		opts.InitialEvents = true
		opts.InitialEventsEndBookmark = options.AllowWatchBookmarks
	case rv == 0 && (options.SendInitialEvents == nil):
		// "" and "0" start from the current state, delivered as ADDED events.
		if err := r.awaitInitialState(ctx, opts.Namespace, options.ResourceVersion); err != nil {
			return nil, err
		}
		opts.InitialEvents = true
	case rv == 0:
		// sendInitialEvents=false without a resourceVersion: only changes from now on.
		opts.ResourceVersion = r.cache.ResourceVersion()
	default:
		// As kube-apiserver: a resourceVersion the cache has not reached yet is not an error;
		// the watch delivers what comes after it.
		opts.ResourceVersion = rv
	}
	return r.cache.Watch(opts)
}

// awaitInitialState makes the state a watch starts with as recent as its resourceVersion asks: as a
// consistent LIST's without one (every write committed before the watch, whichever replica or
// client made it, as kube-apiserver's watch without a resourceVersion), the cache as it is for
// "0", at least that version otherwise.
func (r *REST) awaitInitialState(ctx context.Context, namespace, resourceVersion string) error {
	if resourceVersion == "" {
		return r.awaitConsistent(ctx, namespace)
	}
	return r.awaitResourceVersion(ctx, resourceVersion)
}
