package faults

import (
	"context"
	"testing"
	"time"
)

// Two replicas behind the Service; one is killed mid-stream (every connection closed at once, then
// removed from the Service as the endpoints controller would): clients reconnect through the
// aggregator to the other and resume from their last resourceVersion — both replicas share
// kube-apiserver's revisions — ending with exactly the reference's changes.
func TestReplicaKilledMidStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	replica, err := cp.StartReplica(ctx, "replica-2")
	if err != nil {
		t.Fatal(err)
	}
	cp.ServeBehindService(cp.Server, replica)
	t.Cleanup(func() {
		// Back to one server behind the Service for the other tests.
		if err := cp.Server.Restart(context.Background()); err != nil {
			t.Errorf("restarting the first server: %v", err)
		}
		cp.ServeBehindService(cp.Server)
		replica.Kill()
		servedByAll(t, context.Background(), "default")
	})

	r := newFaultRun(t, 2*time.Minute)
	ref, w := r.ref, r.w
	watchers := r.watchers(cp.Dynamic, 10)
	store := informer(r.ctx, cp.Dynamic, r.ns)
	var killed time.Time
	name, last := scenario(t, r.ctx, w, 40, 0, func(step int) {
		if step == 15 {
			cp.Server.Kill()
			killed = time.Now()
			cp.ServeBehindService(replica)
		}
	})
	caughtUp := waitFor(t, time.Minute, name, last, append(watchers, ref)...)
	sinceKill := time.Since(killed)
	informerAgrees(t, time.Minute, store, ref)
	events, resumed, relisted := agreeAll(t, watchers, ref)
	t.Logf("replica killed: %d writes, %d changes compared over %d watchers (%d resumed on the other replica, %d listed again), stale reads %d; "+
		"every watcher had the last write %s after it was acknowledged, %s after the kill",
		w.acked, events, len(watchers), resumed, relisted, w.staleReads, caughtUp.Round(time.Millisecond), sinceKill.Round(time.Millisecond))
}
