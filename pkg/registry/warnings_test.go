package registry

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

func withFinalizers(names ...string) *appsv1alpha1.Bucket {
	return &appsv1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Finalizers: names}}
}

// The finalizer warnings are kube-apiserver's for a custom resource, for the names a request adds.
func TestFinalizerWarnings(t *testing.T) {
	for _, c := range []struct {
		name     string
		obj, old *appsv1alpha1.Bucket
		want     []string
	}{
		{"qualified names", withFinalizers("example.com/hold", "kubernetes", "orphan", "foregroundDeletion"), nil, nil},
		{"no domain", withFinalizers("hold"), nil, []string{`metadata.finalizers: "hold": prefer a domain-qualified finalizer name to avoid`}},
		{"no path", withFinalizers("example.com"), nil, []string{`metadata.finalizers: "example.com": prefer a domain-qualified finalizer name including a path (/)`}},
		{"not a qualified name", withFinalizers("a/b/c"), nil, []string{`metadata.finalizers: "a/b/c": a valid label key must consist of`}},
		{"already there", withFinalizers("hold", "new"), withFinalizers("hold"), []string{`metadata.finalizers: "new": prefer`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			if c.old == nil {
				got = finalizerWarnings(c.obj, nil)
			} else {
				got = finalizerWarnings(c.obj, c.old)
			}
			if len(got) != len(c.want) {
				t.Fatalf("warnings %q, want %d starting %q", got, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("warning %q, want it to start %q", got[i], w)
				}
			}
		})
	}
}
