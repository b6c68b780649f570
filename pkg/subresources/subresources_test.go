package subresources

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
)

// Each typed kind gets exactly the subresources its description declares; a declared name no code
// serves is an error, not a silently missing route.
func TestForServesWhatTheKindDeclares(t *testing.T) {
	for _, k := range kinds.All() {
		subs, err := For(k, nil, Backend{})
		if err != nil {
			t.Fatalf("%s: %v", k.Kind, err)
		}
		var got []string
		for path := range subs {
			got = append(got, path)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(k.Subresources))
		if !slices.Equal(got, want) {
			t.Errorf("%s serves %v, declares %v", k.Kind, got, want)
		}
	}
	k := kinds.Bucket()
	k.Subresources = []string{"console"}
	if _, err := For(k, nil, Backend{}); err == nil || !strings.Contains(err.Error(), `"console"`) {
		t.Errorf("an unknown subresource: %v", err)
	}
}

// A credentials subresource on a server that may not read Secrets answers 501 naming the remedy.
func TestErrDisabledSaysHowToEnable(t *testing.T) {
	err := ErrDisabled(schema.GroupResource{Group: "apps.cozy.io", Resource: "buckets/credentials"}, "b")
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Code != http.StatusNotImplemented || !strings.Contains(err.Error(), "--credentials-subresources") {
		t.Errorf("%v", err)
	}
}
