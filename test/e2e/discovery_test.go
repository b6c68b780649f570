package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

// TestDiscovery checks what kubectl and dashboards learn about the kinds through the aggregator.
func TestDiscovery(t *testing.T) {
	resources, err := cp.Kube.Discovery().ServerResourcesForGroupVersion(appsv1alpha1.SchemeGroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ kind, singular, short string }{
		"kuberneteses":    {"Kubernetes", "kubernetes", "k8s"},
		"virtualmachines": {"VirtualMachine", "virtualmachine", "cvm"},
		"buckets":         {"Bucket", "bucket", "bkt"},
	}
	found := 0
	for _, r := range resources.APIResources {
		w, ok := want[r.Name]
		if !ok {
			continue
		}
		found++
		if r.Kind != w.kind || r.SingularName != w.singular || !slices.Contains(r.ShortNames, w.short) || !r.Namespaced {
			t.Errorf("%s: kind %s singular %s shortNames %v namespaced %v", r.Name, r.Kind, r.SingularName, r.ShortNames, r.Namespaced)
		}
		if !slices.Contains(r.Categories, "cozy") {
			t.Errorf("%s: categories %v lack cozy", r.Name, r.Categories)
		}
		for _, verb := range []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"} {
			if !slices.Contains(r.Verbs, verb) {
				t.Errorf("%s: verbs %v lack %s", r.Name, r.Verbs, verb)
			}
		}
	}
	if found != len(want) {
		t.Errorf("found %d of %d resources in %v", found, len(want), resources.APIResources)
	}

	// Aggregated discovery (apidiscovery.k8s.io/v2), as kubectl uses it.
	_, lists, err := cp.Kube.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	var aggregated bool
	for _, l := range lists {
		if l.GroupVersion == appsv1alpha1.SchemeGroupVersion.String() && len(l.APIResources) >= 3 {
			aggregated = true
		}
	}
	if !aggregated {
		t.Error("apps.cozy.io/v1alpha1 missing from aggregated discovery")
	}
}

// TestOpenAPI checks that the served OpenAPI carries the schema written in the Go types:
// documentation, enums, defaults, CEL rules and the GVK that kubectl explain needs.
func TestOpenAPI(t *testing.T) {
	ctx := context.Background()
	raw, err := cp.Kube.Discovery().RESTClient().Get().AbsPath("/openapi/v3/apis/apps.cozy.io/v1alpha1").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	schema := func(name string) map[string]any {
		s, ok := doc.Components.Schemas["io.cozy.apps.v1alpha1."+name]
		if !ok {
			t.Fatalf("schema %s missing; have %d schemas", name, len(doc.Components.Schemas))
		}
		return s
	}
	prop := func(s map[string]any, name string) map[string]any {
		p, _ := s["properties"].(map[string]any)[name].(map[string]any)
		if p == nil {
			t.Fatalf("property %s missing", name)
		}
		return p
	}

	if gvk, _ := json.Marshal(schema("Kubernetes")["x-kubernetes-group-version-kind"]); !strings.Contains(string(gvk), `"kind":"Kubernetes"`) {
		t.Errorf("Kubernetes schema lacks its GVK: %s", gvk)
	}
	version := prop(schema("KubernetesSpec"), "version")
	if version["default"] != "v1.35" || len(version["enum"].([]any)) == 0 {
		t.Errorf("spec.version: default %v enum %v", version["default"], version["enum"])
	}
	rules, _ := schema("NodeGroup")["x-kubernetes-validations"].([]any)
	if len(rules) != 1 || !strings.Contains(rules[0].(map[string]any)["rule"].(string), "self.minReplicas <= self.maxReplicas") {
		t.Errorf("NodeGroup lacks the minReplicas <= maxReplicas rule: %v", rules)
	}
	if max := prop(schema("ControlPlane"), "replicas")["maximum"]; max != float64(7) {
		t.Errorf("controlPlane.replicas maximum = %v", max)
	}
	if d, _ := prop(schema("VirtualMachineSpec"), "runStrategy")["description"].(string); !strings.Contains(d, "keeps the machine running") {
		t.Errorf("runStrategy description = %q", d)
	}
	required, _ := json.Marshal(schema("NamedSource")["required"])
	if !strings.Contains(string(required), "name") {
		t.Errorf("NamedSource.required = %s", required)
	}

	v2, err := cp.Kube.Discovery().RESTClient().Get().AbsPath("/openapi/v2").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(v2), "io.cozy.apps.v1alpha1.Bucket") {
		t.Error("OpenAPI v2 lacks io.cozy.apps.v1alpha1.Bucket")
	}
}
