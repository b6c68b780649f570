package releasecache

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// The event log's size, on the server's /metrics: how much watch-resume history it holds and
// what that history costs in memory, so an operator can size --watch-event-log-size and
// --watch-event-log-bytes.
var (
	eventLogEvents = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      "cozy_apiserver",
		Subsystem:      "watch_event_log",
		Name:           "events",
		Help:           "Changes the cache keeps so watches can resume from an older resourceVersion.",
		StabilityLevel: metrics.ALPHA,
	})
	eventLogBytes = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      "cozy_apiserver",
		Subsystem:      "watch_event_log",
		Name:           "retained_bytes",
		Help:           "Estimated bytes of replaced and deleted object versions only the event log keeps alive (bounded by --watch-event-log-bytes).",
		StabilityLevel: metrics.ALPHA,
	})
	registerMetrics sync.Once
)

// RegisterMetrics adds the cache's metrics to the server's /metrics; the server calls it once.
func RegisterMetrics() {
	registerMetrics.Do(func() {
		legacyregistry.MustRegister(eventLogEvents, eventLogBytes)
	})
}

// recordSize publishes the event log's size; the caller holds the cache's lock.
func (l *eventLog) recordSize() {
	eventLogEvents.Set(float64(l.size))
	eventLogBytes.Set(float64(l.bytes))
}
