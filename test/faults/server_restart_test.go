package faults

import (
	"testing"
	"time"
)

// The server restarted while 200 watchers are open and writes go on: each resumes from the last
// resourceVersion it received — answered from the new server's log where it reaches back that
// far, else with 410 and a relist, as kube-apiserver's watch cache after its own restart — and
// ends with the reference's state, nothing repeated or out of order.
func TestServerRestartWith200Watchers(t *testing.T) {
	r := newFaultRun(t, 3*time.Minute)
	ctx, ref, w := r.ctx, r.ref, r.w
	watchers := r.watchers(cp.Dynamic, 200)
	store := informer(ctx, cp.Dynamic, r.ns)
	restarted := make(chan time.Duration, 1)
	name, last := scenario(t, ctx, w, 40, 0, func(step int) {
		if step == 15 {
			// Writes go on (retried) while the server is down and starting again.
			go func() {
				start := time.Now()
				if err := cp.Server.Restart(ctx); err != nil {
					t.Errorf("restarting the server: %v", err)
				}
				restarted <- time.Since(start)
			}()
		}
	})
	downFor := <-restarted
	caughtUp := waitFor(t, 2*time.Minute, name, last, append(watchers, ref)...)
	informerAgrees(t, time.Minute, store, ref)
	events, resumed, relisted := agreeAll(t, watchers, ref)
	if resumed != len(watchers) {
		t.Errorf("%d of %d watchers resumed: the restart did not end their watches", resumed, len(watchers))
	}
	t.Logf("server restart: %d writes, %d changes compared over %d watchers (%d resumed, %d of them listed again after 410), stale reads %d; "+
		"the server was back in %s; every watcher had the last write %s after it was acknowledged",
		w.acked, events, len(watchers), resumed, relisted, w.staleReads, downFor.Round(time.Millisecond), caughtUp.Round(time.Millisecond))
}
