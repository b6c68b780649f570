package faults

import (
	"testing"
	"time"
)

// A client that reads nothing for a while as large changes go on is cut off by the server with
// an ERROR event (429) while the event log still holds what follows the last event it received:
// resuming from there, it gets exactly the rest, without listing again; a watcher that keeps up
// is not affected.
func TestSlowWatcherResumesWithoutLoss(t *testing.T) {
	r := newFaultRun(t, 3*time.Minute)
	ref, w := r.ref, r.w
	gate := make(chan struct{})
	slow := r.watchers(cp.Dynamic, 1, gate)[0]
	brisk := r.watchers(cp.Dynamic, 1)[0]
	// ~64 KB objects: enough to fill what the connections between server and client buffer.
	const pad = 64 << 10
	name, last := scenario(t, r.ctx, w, 200, pad, func(int) {})
	close(gate)
	caughtUp := waitFor(t, 2*time.Minute, name, last, slow, brisk, ref)
	events := agree(t, "the slow watcher", slow, ref) + agree(t, "the brisk watcher", brisk, ref)
	_, _, relists, resumes := slow.snapshot()
	slow.mu.Lock()
	cuts := slow.cuts
	slow.mu.Unlock()
	if cuts == 0 {
		t.Errorf("the slow watcher was never cut off: the test did not fill its buffers")
	}
	if relists != 0 {
		t.Errorf("the slow watcher listed again %d times; it should have resumed", relists)
	}
	t.Logf("slow watcher: %d writes of ~64 KB, %d changes compared over 2 watchers; the slow one was cut %d times, resumed %d times, relisted %d times, "+
		"and had the last write %s after it started reading", w.acked, events, cuts, resumes, relists, caughtUp.Round(time.Millisecond))
}
