package faults

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// The server cut off from kube-apiserver while writes and watches run (every connection closed
// and new ones refused for 3 s, as while kube-apiserver restarts; etcd kept), while releases are
// changed directly meanwhile: writes through the server are retried until acknowledged, and
// afterwards every watcher — plain watches and an informer — holds
// exactly the reference's changes, none lost, repeated or out of order, and no read returned
// state older than an acknowledged write.
func TestServerCutOffFromKubeAPIServer(t *testing.T) {
	r := newFaultRun(t, time.Minute)
	ctx, ns, ref, w := r.ctx, r.ns, r.ref, r.w
	watchers := r.watchers(cp.Dynamic, 3)
	store := informer(ctx, cp.Dynamic, ns)
	restored := make(chan time.Time, 1)
	name, last := scenario(t, ctx, w, 40, 0, func(step int) {
		if step == 15 {
			cp.Upstream.Cut()
			// What happens meanwhile (Flux or an admin changing the releases) reaches the
			// server's watchers once it is back.
			for i := range 5 {
				patch := fmt.Sprintf(`{"spec":{"values":{"users":{"direct%d":{"readonly":true}}}}}`, i)
				if _, err := cp.Dynamic.Resource(release.HelmReleaseGVR).Namespace(ns).Patch(ctx, bucketKind.ReleaseName("a"),
					types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			time.AfterFunc(3*time.Second, func() { cp.Upstream.Restore(); restored <- time.Now() })
		}
	})
	caughtUp := waitFor(t, time.Minute, name, last, append(watchers, ref)...)
	informerAgrees(t, time.Minute, store, ref)
	events, resumes, relists := agreeAll(t, watchers, ref)
	t.Logf("upstream outage: %d writes acknowledged, %d changes compared over %d watchers, %d relisted, %d resumed, stale reads %d, "+
		"last write visible to every watcher %s after it was acknowledged, %s after the outage ended",
		w.acked, events, len(watchers), relists, resumes, w.staleReads, caughtUp.Round(time.Millisecond), time.Since(<-restored).Round(time.Millisecond))
}
