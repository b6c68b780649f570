package e2e

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestDeliberateDifferences keeps README's table of deliberate differences true: each request is
// sent to a kind and to its CRD twin, and both answers are checked — the CRD's as kube-apiserver
// gives it today, ours as chosen.
func TestDeliberateDifferences(t *testing.T) {
	for _, c := range []struct {
		parityCase
		here, crd int
		// says is in both answers' reasons or causes, when set.
		says string
	}{
		{parityCase: parityCase{name: "a create carrying metadata.resourceVersion", kind: "Bucket",
			request: createBody(`{"metadata":{"resourceVersion":"12"},"spec":{}}`)},
			here: 400, crd: 500, says: "resourceVersion should not be set on objects to be created"},
		// Not a difference, kept beside the one above: an apply that creates ignores the version.
		{parityCase: parityCase{name: "a server-side apply creating an object with metadata.resourceVersion", kind: "Bucket",
			request: func(ctx context.Context, tt parityTarget) (any, error) {
				body := `{"apiVersion":"` + tt.group + `/v1alpha1","kind":"Bucket","metadata":{"name":"applied","resourceVersion":"12"},"spec":{}}`
				return summarize(tt.c.Patch(ctx, "applied", types.ApplyPatchType, []byte(body), metav1.PatchOptions{FieldManager: "test"}))
			}},
			here: 200, crd: 200},
		{parityCase: parityCase{name: "a watch from resourceVersion abc", kind: "Bucket",
			request: func(ctx context.Context, tt parityTarget) (any, error) {
				w, err := tt.c.Watch(ctx, metav1.ListOptions{ResourceVersion: "abc"})
				if err == nil {
					w.Stop()
				}
				return nil, err
			}},
			here: 400, crd: 500},
		{parityCase: parityCase{name: "Flux's finalizer set by a client", kind: "Bucket",
			request: mergePatch(`{"metadata":{"finalizers":["finalizers.fluxcd.io"]}}`)},
			here: 422, crd: 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			here, crd := sendBoth(t, c.parityCase)
			if here.Code != c.here || crd.Code != c.crd {
				t.Errorf("answers %d here (want %d), %d from the CRD (want %d)\n  here %s\n  CRD  %s", here.Code, c.here, crd.Code, c.crd, normalize(here), normalize(crd))
			}
			if c.says != "" && (!strings.Contains(normalize(here), c.says) || !strings.Contains(normalize(crd), c.says)) {
				t.Errorf("not both say %q\n  here %s\n  CRD  %s", c.says, normalize(here), normalize(crd))
			}
		})
	}
}
