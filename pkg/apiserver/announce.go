package apiserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

// AnnotationServedKinds is set on this server's APIService to a digest of the kinds it serves.
// kube-apiserver's aggregator re-reads an aggregated server's discovery and OpenAPI when its
// APIService changes, and otherwise only every minute: changing the annotation is how a new kind
// reaches `kubectl api-resources` within seconds. Every replica computes the same digest for the
// same kinds, so replicas that agree write nothing.
const AnnotationServedKinds = "apps.cozy.io/served-kinds"

// announceDelay lets every replica serve a change before the aggregator re-reads discovery from
// whichever replica it reaches.
const announceDelay = time.Second

var apiServicesGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// announcer writes AnnotationServedKinds, the latest digest only, one write at a time.
type announcer struct {
	client dynamic.ResourceInterface
	name   string

	mu      sync.Mutex
	latest  string
	written string
	running bool
	warned  bool
}

func newAnnouncer(dyn dynamic.Interface) *announcer {
	gv := appsv1alpha1.SchemeGroupVersion
	return &announcer{client: dyn.Resource(apiServicesGVR), name: gv.Version + "." + gv.Group}
}

// servedKindsDigest is the digest of the defined kinds served, by resource, kind and definition
// generation (a schema change changes the OpenAPI the aggregator should re-read).
func servedKindsDigest(s *servedSet) string {
	var lines []string
	for resource, k := range s.byResource {
		lines = append(lines, fmt.Sprintf("%s %s %s %d", resource, k.defined.Kind.Kind, k.defined.Definition, k.defined.Generation))
	}
	sort.Strings(lines)
	sum := sha256.New()
	for _, l := range lines {
		sum.Write([]byte(l + "\n"))
	}
	return hex.EncodeToString(sum.Sum(nil))[:16]
}

// announce asks for the digest to be written; it never blocks.
func (a *announcer) announce(digest string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.latest = digest
	if a.running || a.latest == a.written {
		return
	}
	a.running = true
	go a.run()
}

func (a *announcer) run() {
	for {
		time.Sleep(announceDelay)
		a.mu.Lock()
		digest := a.latest
		if digest == a.written {
			a.running = false
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		err := a.write(digest)
		a.mu.Lock()
		if err != nil && !a.warned {
			// Without the right (an older deployment), discovery follows within the aggregator's
			// minute; one try per change, one log line.
			a.warned = true
			klog.InfoS("Could not mark the APIService changed; kube-apiserver's discovery follows within a minute", "apiService", a.name, "err", err)
		}
		a.written = digest
		a.mu.Unlock()
	}
}

func (a *announcer) write(digest string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, AnnotationServedKinds, digest)
	_, err := a.client.Patch(ctx, a.name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "cozy-apiserver"})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("no APIService %s: %w", a.name, err)
	}
	return err
}
