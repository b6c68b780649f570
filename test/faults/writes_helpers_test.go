package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// writes changes Buckets through apps.cozy.io as a tenant's client would: each write is retried
// until acknowledged, and after each one a consistent GET and LIST must show it (no read returns
// state older than an acknowledged write). It returns the last acknowledged write's name and
// revision.
type writes struct {
	t      *testing.T
	client dynamic.ResourceInterface
	acked  int
	// staleReads counts reads that returned state older than an acknowledged write.
	staleReads int
}

// bucket is a Bucket whose users map carries n, so every write is a visible change; pad makes the
// object large (an annotation of that many bytes).
func bucket(name string, n, pad int) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps.cozy.io/v1alpha1", "kind": "Bucket",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{"storagePool": "default", "users": map[string]any{
			fmt.Sprintf("w%d", n): map[string]any{"readonly": false},
		}},
	}}
	if pad > 0 {
		obj.SetAnnotations(map[string]string{"example.com/pad": strings.Repeat("x", pad)})
	}
	return obj
}

// apply creates or replaces the Bucket (n as in bucket), retrying through faults, and checks the
// reads that follow.
func (w *writes) apply(ctx context.Context, name string, n, pad int) uint64 {
	w.t.Helper()
	var rv uint64
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			w.t.Fatalf("writing %s: %v", name, ctx.Err())
		}
		obj := bucket(name, n, pad)
		current, err := w.client.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			current, err = w.client.Create(ctx, obj, metav1.CreateOptions{})
		case err == nil:
			obj.SetResourceVersion(current.GetResourceVersion())
			current, err = w.client.Update(ctx, obj, metav1.UpdateOptions{})
		}
		if err == nil {
			rv = rvOf(current)
			break
		}
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) {
			w.t.Fatalf("writing %s: %v", name, err)
		}
		if attempt%40 == 39 {
			w.t.Logf("writing %s, attempt %d: %v", name, attempt+1, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.acked++
	w.checkReads(ctx, name, rv)
	return rv
}

// remove deletes the Bucket, retrying through faults.
func (w *writes) remove(ctx context.Context, name string) {
	w.t.Helper()
	for ctx.Err() == nil {
		err := w.client.Delete(ctx, name, metav1.DeleteOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			w.acked++
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("deleting %s: %v", name, ctx.Err())
}

func (w *writes) checkReads(ctx context.Context, name string, rv uint64) {
	for ctx.Err() == nil {
		got, err := w.client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if rvOf(got) < rv {
			w.staleReads++
			w.t.Errorf("GET %s after a write acknowledged at %d returned %d", name, rv, rvOf(got))
		}
		break
	}
	for ctx.Err() == nil {
		list, err := w.client.List(ctx, metav1.ListOptions{})
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		found := false
		for _, it := range list.Items {
			if it.GetName() == name {
				found = true
				if rvOf(&it) < rv {
					w.staleReads++
					w.t.Errorf("LIST after a write of %s acknowledged at %d returned it at %d", name, rv, rvOf(&it))
				}
			}
		}
		if !found {
			w.staleReads++
			w.t.Errorf("LIST after a write of %s acknowledged at %d does not hold it", name, rv)
		}
		return
	}
}

// scenario writes steps changes to three Buckets through apps.cozy.io (creates, updates, a
// deletion and re-creation every tenth step), calling fault before each step, then a final write
// of "marker", whose name and revision it returns: once a watcher holds it, it has seen
// everything before it.
func scenario(t *testing.T, ctx context.Context, w *writes, steps, pad int, fault func(step int)) (string, uint64) {
	t.Helper()
	names := []string{"a", "b", "c"}
	for i := 0; i < steps; i++ {
		fault(i)
		name := names[i%len(names)]
		if i%10 == 9 {
			w.remove(ctx, name)
			continue
		}
		w.apply(ctx, name, i, pad)
	}
	return "marker", w.apply(ctx, "marker", steps, 0)
}
