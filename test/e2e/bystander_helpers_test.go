package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// bystander is another tenant using the API while a hostile one sends bad input: it creates,
// reads and patches Buckets and watches them, and records how long each step took.
type bystander struct {
	ns       string
	mu       sync.Mutex
	slowest  time.Duration
	failures []string
	stop     chan struct{}
	done     chan struct{}
}

// maxBystanderDelay is how long any request or watch event of another tenant may take while the
// hostile input is sent (longer under the race detector, which slows the whole process).
const maxBystanderDelay = 2 * time.Second * raceSlowdown

func startBystander(t *testing.T) *bystander {
	t.Helper()
	b := &bystander{ns: newTenant(t), stop: make(chan struct{}), done: make(chan struct{})}
	c := cp.Dynamic.Resource(gvr("buckets")).Namespace(b.ns)
	w, err := c.Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("bystander watch: %v", err)
	}
	go func() {
		defer close(b.done)
		defer w.Stop()
		for i := 0; ; i++ {
			select {
			case <-b.stop:
				return
			default:
			}
			name := fmt.Sprintf("b%d", i)
			b.step("create", func(ctx context.Context) error {
				_, err := c.Create(ctx, bucketObject(name), metav1.CreateOptions{})
				return err
			})
			b.step("watch event", func(ctx context.Context) error {
				for {
					select {
					case e, ok := <-w.ResultChan():
						if !ok {
							return fmt.Errorf("watch closed")
						}
						if m, err := metaName(e.Object); err == nil && m == name && e.Type == watch.Added {
							return nil
						}
					case <-ctx.Done():
						return fmt.Errorf("no ADDED event for %s", name)
					}
				}
			})
			b.step("get", func(ctx context.Context) error {
				_, err := c.Get(ctx, name, metav1.GetOptions{})
				return err
			})
			b.step("patch", func(ctx context.Context) error {
				_, err := c.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"step":"patched"}}}`), metav1.PatchOptions{})
				return err
			})
			b.step("list", func(ctx context.Context) error {
				_, err := c.List(ctx, metav1.ListOptions{})
				return err
			})
		}
	}()
	return b
}

func (b *bystander) step(what string, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*maxBystanderDelay)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	took := time.Since(start)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slowest = max(b.slowest, took)
	if err != nil || took > maxBystanderDelay {
		b.failures = append(b.failures, fmt.Sprintf("%s: %v after %v", what, err, took))
	}
}

// finish stops the bystander and fails the test if any of its steps failed or was slow.
func (b *bystander) finish(t *testing.T) {
	t.Helper()
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	t.Logf("bystander tenant: slowest step %v", b.slowest)
	if len(b.failures) > 0 {
		t.Errorf("another tenant was affected by the hostile input: %s", strings.Join(b.failures, "; "))
	}
}

func bucketObject(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps.cozy.io/v1alpha1", "kind": "Bucket",
		"metadata": map[string]any{"name": name}, "spec": map[string]any{"storagePool": "default"},
	}}
}

func metaName(obj any) (string, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return "", fmt.Errorf("%T", obj)
	}
	return u.GetName(), nil
}

func deepJSON(levels int) string {
	return strings.Repeat(`{"a":`, levels) + `1` + strings.Repeat(`}`, levels)
}
