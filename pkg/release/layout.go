package release

import (
	"maps"
	"reflect"
)

// Layout is how a kind's objects are stored as HelmReleases: the release name prefix, the chart
// and the labels every new release gets. A typed kind's layout is built in (or from the kinds
// config) and its ApplicationDefinition may replace it while the server runs; a defined kind's is
// its definition's.
type Layout struct {
	// ReleasePrefix is prepended to an object's name to form its HelmRelease name. It is part of
	// the stored data: changing it leaves the releases made with the old prefix to no object.
	ReleasePrefix string
	// Chart is how Flux installs the kind.
	Chart Chart
	// ReleaseLabels are labels every new release of the kind gets (an ApplicationDefinition's
	// release.labels, e.g. the Flux shard or the tenant-module marker). A label a release already
	// carries is left as it is, so an operator may move a release to another shard.
	ReleaseLabels map[string]string
}

// ReleaseLayout is the layout the kind's releases have now: the one its definition set while the
// server runs (SetDefinedLayout), or else the kind's own. Read it once per request, so one request
// never mixes two layouts.
func (k *Kind) ReleaseLayout() *Layout {
	if defined := k.definedLayout.Load(); defined != nil {
		return defined
	}
	return &k.Layout
}

// SetDefinedLayout makes the kind's releases take the layout its ApplicationDefinition gives from
// now on; nil returns to the kind's own. It reports whether the layout releases have changed.
func (k *Kind) SetDefinedLayout(l *Layout) bool {
	before := k.ReleaseLayout()
	k.definedLayout.Store(l)
	return !before.Equal(k.ReleaseLayout())
}

// Equal reports whether two layouts store releases alike: the same prefix, chart settings and
// labels, whether the Flux shard is named by the chart's sharding key or among the labels.
func (l *Layout) Equal(other *Layout) bool {
	a, b := l.Chart, other.Chart
	a.ShardingKey, b.ShardingKey = "", ""
	return l.ReleasePrefix == other.ReleasePrefix && reflect.DeepEqual(a, b) && maps.Equal(l.labels(), other.labels())
}

// labels are the labels a new release gets from the layout.
func (l *Layout) labels() map[string]string {
	out := maps.Clone(l.ReleaseLabels)
	if l.Chart.ShardingKey != "" {
		if out == nil {
			out = map[string]string{}
		}
		if _, set := out[ShardingLabel]; !set {
			out[ShardingLabel] = l.Chart.ShardingKey
		}
	}
	return out
}
