package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
)

// installedTyped answers the typed kinds' list as the generic server's handler would.
func installedTyped() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: "apps.cozy.io/v1alpha1",
			APIResources: []metav1.APIResource{{Name: "buckets", Namespaced: true, Kind: "Bucket", Verbs: metav1.Verbs{"get"}}},
		})
	})
}

func discoveryGET(d *groupDiscovery, accept string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/apis/apps.cozy.io/v1alpha1", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	d.ServeHTTP(rec, req)
	return rec
}

// A JSON request is answered from the list encoded at the last change, byte for byte what the
// handler answers; any other goes through the handler; a change is served at once.
func TestLegacyDiscoveryServedFromItsEncoding(t *testing.T) {
	d, err := newGroupDiscovery(installedTyped(), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../artifacts/catalog/redis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var def kinds.ApplicationDefinition
	if err := yaml.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	redis, err := kinds.FromDefinition(&def)
	if err != nil {
		t.Fatal(err)
	}
	for _, defined := range [][]*kinds.Defined{nil, {redis}} {
		if defined != nil {
			d.update(defined)
		}
		direct := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/apis/apps.cozy.io/v1alpha1", nil)
		req.Header.Set("Accept", "application/json")
		d.handler.ServeHTTP(direct, req)
		for _, accept := range []string{"", "application/json", "application/json, */*", "*/*",
			"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"} {
			got := discoveryGET(d, accept)
			if got.Code != http.StatusOK || got.Body.String() != direct.Body.String() || got.Header().Get("Content-Type") != direct.Header().Get("Content-Type") {
				t.Errorf("Accept %q: %d %s %q, want the handler's %s", accept, got.Code, got.Header().Get("Content-Type"), got.Body.String(), direct.Body.String())
			}
		}
		if served := strings.Contains(direct.Body.String(), `"redises"`); served != (defined != nil) {
			t.Errorf("redises listed %v after update %v: %s", served, defined != nil, direct.Body.String())
		}
	}
	if got := discoveryGET(d, "application/yaml"); got.Code != http.StatusOK || !strings.Contains(got.Header().Get("Content-Type"), "yaml") || !strings.Contains(got.Body.String(), "redises") {
		t.Errorf("YAML through the handler: %d %s %s", got.Code, got.Header().Get("Content-Type"), got.Body.String())
	}
}

func TestNegotiatesPlainJSON(t *testing.T) {
	for accept, want := range map[string]bool{
		"": true, "application/json": true, "application/json, */*": true, "*/*": true,
		"application/yaml": false,
		"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json": true,
		"application/vnd.kubernetes.protobuf, */*":                                              false,
	} {
		req := httptest.NewRequest(http.MethodGet, "/apis/apps.cozy.io/v1alpha1", nil)
		req.Header.Set("Accept", accept)
		if got := negotiatesPlainJSON(req); got != want {
			t.Errorf("Accept %q: %v, want %v", accept, got, want)
		}
	}
	pretty := httptest.NewRequest(http.MethodGet, "/apis/apps.cozy.io/v1alpha1?pretty=true", nil)
	if negotiatesPlainJSON(pretty) {
		t.Error("?pretty=true answered from the compact encoding")
	}
	curl := httptest.NewRequest(http.MethodGet, "/apis/apps.cozy.io/v1alpha1", nil)
	curl.Header.Set("User-Agent", "curl/8.0")
	if negotiatesPlainJSON(curl) {
		t.Error("curl (answered pretty by the handler) answered from the compact encoding")
	}
}
