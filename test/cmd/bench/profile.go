package main

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// profileSeconds is how long each CPU profile runs.
const profileSeconds = 10

// profiles records the server's heap (after a collection, what the cache holds once the run is
// over) and its CPU profile (its /debug/pprof) while GETs, then merge patches, then creates and deletes, run through the
// aggregator from the mixed workload's workers, into --profile-dir: `go tool pprof -top <file>`
// shows where the server's memory and time go.
func (b *bench) profiles(ctx context.Context) error {
	if b.cfg.profileDir == "" {
		return nil
	}
	if err := os.MkdirAll(b.cfg.profileDir, 0o755); err != nil {
		return err
	}
	heap := filepath.Join(b.cfg.profileDir, "heap.pb.gz")
	if err := b.fetchProfile(ctx, "/debug/pprof/heap?gc=1", heap); err != nil {
		return err
	}
	fmt.Printf("  heap profile written to %s\n", heap)
	bucketIndex := 0
	for i, kc := range b.kinds {
		if kc.kind == "Bucket" {
			bucketIndex = i
		}
	}
	for _, p := range []struct {
		name string
		op   func(rng *rand.Rand) error
	}{
		{"get", func(rng *rand.Rand) error {
			kc, ns, name := b.object(rng.Intn(b.cfg.objects))
			_, err := b.cozy(kc).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
			return err
		}},
		{"list-namespace", func(rng *rand.Rand) error {
			ns := namespace(rng.Intn(b.cfg.namespaces), b.cfg.namespaces)
			_, err := b.cozy(b.kinds[bucketIndex]).Namespace(ns).List(ctx, metav1.ListOptions{})
			return err
		}},
		{"patch", func(rng *rand.Rand) error {
			kc, ns, name := b.object(rng.Intn(b.cfg.objects/len(b.kinds))*len(b.kinds) + bucketIndex)
			_, err := b.cozy(kc).Namespace(ns).Patch(ctx, name, types.MergePatchType,
				[]byte(fmt.Sprintf(`{"metadata":{"labels":{"seq":"%d"}}}`, rng.Int())), metav1.PatchOptions{})
			return err
		}},
		{"create-delete", func(rng *rand.Rand) error {
			// Each worker creates an object of its own and deletes it again.
			kc := b.kinds[bucketIndex]
			ns := namespace(rng.Intn(b.cfg.namespaces), b.cfg.namespaces)
			obj := kc.example.DeepCopy()
			obj.SetName(fmt.Sprintf("prof-%d", rng.Int63()))
			if _, err := b.cozy(kc).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				return err
			}
			return b.cozy(kc).Namespace(ns).Delete(ctx, obj.GetName(), metav1.DeleteOptions{})
		}},
	} {
		path := filepath.Join(b.cfg.profileDir, "cpu-"+p.name+".pb.gz")
		until, stop := context.WithCancel(ctx)
		load := make(chan error, 1)
		go func() {
			_, err := b.runWorkers(until, 0, p.op)
			load <- err
		}()
		err := b.fetchProfile(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", profileSeconds), path)
		stop()
		if loadErr := <-load; err == nil && loadErr != nil {
			err = fmt.Errorf("load for the %s profile: %w", p.name, loadErr)
		}
		if err != nil {
			return err
		}
		fmt.Printf("  CPU profile of %s written to %s\n", p.name, path)
	}
	return nil
}

// fetchProfile saves one of the server's /debug/pprof endpoints to path.
func (b *bench) fetchProfile(ctx context.Context, endpoint, path string) error {
	resp, err := b.serverGet(ctx, endpoint, (profileSeconds+30)*time.Second)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}
