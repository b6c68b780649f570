package faults

import (
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// Clients cut off while more changes happen than the server's event log holds, then etcd
// compacted past all of it: a watch from before is answered 410 (one ERROR event), watchers that
// resume list again and end with the reference's state, nothing repeated or out of order, and an
// informer recovers on its own.
func TestEventLogOverrunAndEtcdCompaction(t *testing.T) {
	r := newFaultRun(t, 2*time.Minute)
	ctx, ns, ref, w := r.ctx, r.ns, r.ref, r.w
	watchers := r.watchers(clients, 3)
	store := informer(ctx, clients, ns)
	var cutAt string
	var restored time.Time
	steps := 2*eventLogSize + 20
	name, last := scenario(t, ctx, w, steps, 0, func(step int) {
		switch step {
		case 10:
			cutAt = listRV(t, ctx, ns)
			clientProxy.Cut()
		case steps - 1:
			rev, err := cp.CompactEtcd(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("etcd compacted at revision %d", rev)
			clientProxy.Restore()
			restored = time.Now()
		}
	})

	// A watch from before the cut: its resourceVersion is older than the event log.
	gone, err := clients.Resource(bucketsGVR).Namespace(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: cutAt})
	if err != nil {
		t.Fatal(err)
	}
	e := <-gone.ResultChan()
	gone.Stop()
	if e.Type != watch.Error || !apierrors.IsResourceExpired(apierrors.FromObject(e.Object)) {
		t.Errorf("a watch from %s, before the event log: %s %v, want ERROR 410 Expired", cutAt, e.Type, e.Object)
	}

	caughtUp := waitFor(t, time.Minute, name, last, append(watchers, ref)...)
	sinceRestore := time.Since(restored)
	informerTook := informerAgrees(t, time.Minute, store, ref)
	events, _, relisted := agreeAll(t, watchers, ref)
	if relisted != len(watchers) {
		t.Errorf("%d of %d watchers listed again: the fault did not outlast the event log", relisted, len(watchers))
	}
	t.Logf("event log overrun + compaction: %d writes, %d changes compared over %d watchers, %d relisted, stale reads %d; "+
		"watchers caught up %s after the last write (%s after clients came back), the informer %s later",
		w.acked, events, len(watchers), relisted, w.staleReads, caughtUp.Round(time.Millisecond),
		sinceRestore.Round(time.Millisecond), informerTook.Round(time.Millisecond))
}
