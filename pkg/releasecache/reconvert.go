package releasecache

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// SetKindLabel names the release label whose value says which kind a release belongs to (the
// values Reconvert is given). Without it, a reconversion lists every release. Call it before Run.
func (c *Cache) SetKindLabel(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kindLabel = key
}

// Reconvert makes the cache convert again, with its converter, the releases whose kind label has
// one of the given values: the converter's kinds for them changed (a kind was defined, changed or
// removed). The upstream watch goes on; the releases of those kinds alone are listed (a
// reconversion round, see reconvertRound) and each one that did not change since is converted
// anew, added (a kind just defined) or dropped (a kind no longer served) without an event, as
// custom resources read differently after their CRD changed and appear with a new CRD without
// events. Changes the watch delivers are converted by the converter of their time, as ever.
// Watches of a kind that is gone are ended with EndWatches. The event log keeps only real changes,
// each at its own revision, so every other watch resumes exactly. Requests made while a round
// runs are served by the next one. It never blocks.
func (c *Cache) Reconvert(kindLabelValues ...string) {
	c.mu.Lock()
	// A conversion that began before this call may have used the converter's old kinds: it is
	// done again (store.Update, store.Replace).
	generation := c.converterGeneration.Add(1)
	for _, v := range kindLabelValues {
		c.reconvertKinds[v] = generation
	}
	c.mu.Unlock()
	select {
	case c.reconvertAsked <- struct{}{}:
	default:
	}
}

// runReconversions serves Reconvert's requests until ctx ends, one round at a time, listing with
// lw; a round that fails is retried with the next, after a growing pause. Rounds wait for the
// initial list, which converts with the kinds asked for before it began (store.Replace).
func (c *Cache) runReconversions(ctx context.Context, lw cache.ListerWatcherWithContext) {
	pause := time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.reconvertAsked:
		}
		if c.AwaitSynced(ctx) != nil {
			return
		}
		c.mu.Lock()
		asked := c.reconvertKinds
		c.reconvertKinds = map[string]uint64{}
		c.mu.Unlock()
		if len(asked) == 0 {
			continue
		}
		kinds := slices.Sorted(maps.Keys(asked))
		err := c.reconvertRound(ctx, lw, kinds)
		if err == nil {
			pause = time.Second
			continue
		}
		klog.FromContext(ctx).Error(err, "Reconverting releases failed; retrying", "kinds", kinds, "after", pause)
		c.mu.Lock()
		for k, generation := range asked {
			c.reconvertKinds[k] = max(c.reconvertKinds[k], generation)
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
		select {
		case c.reconvertAsked <- struct{}{}:
		default:
		}
	}
}

// errRelisted says a full relist ran while a round listed: the round is done again, as the relist
// may have removed releases the round's list still holds.
var errRelisted = errors.New("the upstream watch relisted while the round listed")

// reconvertRound lists the releases of the given kinds and serves each one as it converts now,
// without events, unless the upstream watch has moved it since (see applyRoundLocked).
func (c *Cache) reconvertRound(ctx context.Context, lw cache.ListerWatcherWithContext, kinds []string) error {
	started := time.Now()
	c.mu.Lock()
	selector, err := c.kindSelectorLocked(kinds)
	c.touched, c.relistedDuringRound = map[string]uint64{}, false
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.touched = nil
		c.mu.Unlock()
	}()
	if err != nil {
		return err
	}
	// One consistent list, not pages: kube-apiserver filters it in its watch cache.
	list, err := lw.ListWithContext(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fmt.Errorf("listing the releases of kinds %v: %w", kinds, err)
	}
	items, err := meta.ExtractListWithAlloc(list)
	if err != nil {
		return fmt.Errorf("reading the releases of kinds %v: %w", kinds, err)
	}
	converted := make([]roundItem, 0, len(items))
	for _, item := range items {
		hr, err := asRelease(item)
		if err != nil {
			return err
		}
		it := roundItem{key: releaseKey(hr), rv: resourceVersionOf(hr), size: approximateSize(hr.Object)}
		if kind, obj, ok := c.convertForCache(hr); ok {
			it.kind, it.obj = kind, obj
		}
		converted = append(converted, it)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.relistedDuringRound {
		return errRelisted
	}
	placed, dropped := c.applyRoundLocked(converted)
	c.notifyLocked()
	klog.FromContext(ctx).V(2).Info("Reconverted releases", "kinds", kinds, "listed", len(items), "served", placed, "dropped", dropped, "duration", time.Since(started))
	return nil
}

// roundItem is a listed release as it converts now: obj is nil when no kind converts it.
type roundItem struct {
	key, kind string
	obj       runtime.Object
	rv        uint64
	size      int64
}

// applyRoundLocked serves each listed release that the upstream watch has not moved since the
// list as it converts now. A listed release is at its list revision in the cache, or the watch has
// not delivered that revision yet (it will, converted anew), or the watch delivered a later change
// (converted anew, as every change applied after Reconvert is; touched records the changes that
// left nothing cached). Only a release at the same revision, or whose revision the watch delivered
// before the round when its kind was not served, is converted here.
func (c *Cache) applyRoundLocked(items []roundItem) (placed, dropped int) {
	for _, it := range items {
		ref, cached := c.releases[it.key]
		switch {
		case cached:
			if resourceVersionOf(c.objects[ref.kind][ref.namespace][ref.name]) != it.rv {
				continue
			}
		case c.touched[it.key] >= it.rv || c.rv < it.rv:
			continue
		}
		c.dropLocked(it.key)
		if it.obj == nil {
			if cached {
				dropped++
			}
			continue
		}
		c.placeLocked(it.key, it.kind, it.obj, it.size)
		placed++
	}
	return placed, dropped
}

// kindSelectorLocked selects the releases of the given kinds; every release when the cache was not
// told the kind label or a value cannot be a label's.
func (c *Cache) kindSelectorLocked(kinds []string) (string, error) {
	if c.kindLabel == "" {
		return "", nil
	}
	requirement, err := labels.NewRequirement(c.kindLabel, selection.In, kinds)
	if err != nil {
		klog.InfoS("Reconverting every release: a kind is not a label value", "err", err)
		requirement, err = labels.NewRequirement(c.kindLabel, selection.Exists, nil)
		if err != nil {
			return "", fmt.Errorf("selecting releases by label %q: %w", c.kindLabel, err)
		}
	}
	return labels.NewSelector().Add(*requirement).String(), nil
}

// touchLocked records, during a round, that the upstream watch delivered a change of a release.
func (c *Cache) touchLocked(key string, rv uint64) {
	if c.touched != nil {
		c.touched[key] = max(c.touched[key], rv)
	}
}

// placeLocked stores a converted object without an event (see Reconvert).
func (c *Cache) placeLocked(key, kind string, obj runtime.Object, size int64) {
	ref := refOf(kind, obj)
	ref.size = size
	byNamespace := c.objects[kind]
	if byNamespace == nil {
		byNamespace = map[string]map[string]runtime.Object{}
		c.objects[kind] = byNamespace
	}
	byName := byNamespace[ref.namespace]
	if byName == nil {
		byName = map[string]runtime.Object{}
		byNamespace[ref.namespace] = byName
	}
	byName[ref.name] = obj
	c.releases[key] = ref
}

// dropLocked forgets a release's object without an event (see Reconvert).
func (c *Cache) dropLocked(key string) {
	ref, ok := c.releases[key]
	if !ok {
		return
	}
	delete(c.releases, key)
	delete(c.objects[ref.kind][ref.namespace], ref.name)
	if len(c.objects[ref.kind][ref.namespace]) == 0 {
		delete(c.objects[ref.kind], ref.namespace)
	}
}

// EndWatches closes every watch of a kind that is no longer served: its clients see the watch end
// and, listing again, that the resource is gone.
func (c *Cache) EndWatches(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.watchers {
		if w.opts.Kind == kind {
			delete(c.watchers, w)
			w.stopOnce.Do(func() { close(w.done) })
		}
	}
}
