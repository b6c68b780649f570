package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/cozystack/apps-apiserver/pkg/catalog"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// catalogApplications are the definitions of artifacts/catalog served as defined kinds (the
// others name the typed kinds' application kinds).
var catalogApplications = []string{"postgres", "redis", "tenant", "kafka", "clickhouse", "mariadb", "mongodb", "nats", "rabbitmq", "vpn", "etcd", "info"}

// TestCatalogServesEveryDefinition applies this project's definitions of twelve catalog
// applications and drives each defined kind through the aggregator: an empty spec gets the
// schema's defaults, the HelmRelease has the definition's prefix, chartRef and labels, a wrong
// type is a 422 at its path, the chart's own values are a valid spec, and server-side apply
// records field ownership.
func TestCatalogServesEveryDefinition(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	for _, name := range catalogApplications {
		applyDefinition(t, definition(t, name))
	}
	// Legacy discovery (/apis/apps.cozy.io/v1alpha1, proxied to the server) lists every kind and
	// its status subresource; kubectl's aggregated discovery is checked in catalog_kubectl_test.go.
	eventually(t, 20*time.Second, "the defined kinds in /apis/apps.cozy.io/v1alpha1", func(ctx context.Context) (bool, error) {
		list, err := cp.Kube.Discovery().ServerResourcesForGroupVersion("apps.cozy.io/v1alpha1")
		if err != nil {
			return false, err
		}
		listed := map[string]bool{}
		for _, r := range list.APIResources {
			listed[r.Name] = true
		}
		for _, name := range catalogApplications {
			plural, _, _ := unstructured.NestedString(definition(t, name).Object, "spec", "application", "plural")
			if !listed[plural] || !listed[plural+"/status"] {
				return false, fmt.Errorf("%s missing from %v", plural, listed)
			}
		}
		return listed["buckets"] && listed["kuberneteses/kubeconfig"], nil
	})
	for _, name := range catalogApplications {
		t.Run(name, func(t *testing.T) {
			def := definition(t, name)
			kind := definedKind(t, def)
			awaitServed(t, cp.Dynamic, kind.Kind.Resource, ns)
			client := cp.Dynamic.Resource(gvr(kind.Kind.Resource)).Namespace(ns)

			obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps.cozy.io/v1alpha1", "kind": kind.Kind.Kind}}
			obj.SetName("empty")
			created, err := client.Create(ctx, obj, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create with no spec: %v", err)
			}
			want := map[string]any{"spec": map[string]any{}}
			kind.Schema.Default(want)
			if got := created.Object["spec"]; !equalJSON(got, want["spec"]) {
				t.Errorf("an empty spec did not get the schema's defaults:\ngot  %v\nwant %v", got, want["spec"])
			}

			hr, err := helmRelease(ctx, ns, kind.Kind.Layout.ReleasePrefix+"empty")
			if err != nil {
				t.Fatalf("HelmRelease %s: %v", kind.Kind.Layout.ReleasePrefix+"empty", err)
			}
			if chart, _, _ := unstructured.NestedString(hr.Object, "spec", "chartRef", "name"); chart != kind.Kind.Layout.Chart.ChartRef.Name {
				t.Errorf("chartRef %q, want the definition's %q", chart, kind.Kind.Layout.Chart.ChartRef.Name)
			}
			labels := hr.GetLabels()
			if labels[release.LabelApplicationKind] != kind.Kind.Kind || labels[release.LabelApplicationName] != "empty" {
				t.Errorf("application labels %v", labels)
			}
			defLabels, _, _ := unstructured.NestedStringMap(def.Object, "spec", "release", "labels")
			for k, v := range defLabels {
				if labels[k] != v {
					t.Errorf("release label %s=%q, want the definition's %q", k, labels[k], v)
				}
			}
			if values, _, _ := unstructured.NestedMap(hr.Object, "spec", "values"); !equalJSON(values, created.Object["spec"]) {
				t.Errorf("release values %v differ from the spec %v", values, created.Object["spec"])
			}

			got := mustGet(t, client, "empty")
			if got.GetUID() != hr.GetUID() || got.GetResourceVersion() == "" {
				t.Errorf("GET returned %s@%s, the release is %s", got.GetUID(), got.GetResourceVersion(), hr.GetUID())
			}

			// A wrong type anywhere is a 422 naming the field, as for a CRD.
			if field, ok := firstTypedProperty(t, def); ok {
				bad := obj.DeepCopy()
				bad.SetName("bad")
				bad.Object["spec"] = map[string]any{field.name: field.wrong}
				_, err = client.Create(ctx, bad, metav1.CreateOptions{})
				if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec."+field.name) {
					t.Errorf("wrong type for spec.%s: %v, want 422 at spec.%s", field.name, err, field.name)
				}
			}

			// Server-side apply: the manager owns what it applied.
			// (No '-' in the name: a Tenant's may not hold one.)
			appliedName := "applied" + strings.ReplaceAll(name, "-", "")
			applied, err := client.Patch(ctx, appliedName, types.ApplyPatchType,
				[]byte(`{"apiVersion":"apps.cozy.io/v1alpha1","kind":"`+kind.Kind.Kind+`","metadata":{"name":"`+appliedName+`","labels":{"team":"a"}}}`),
				metav1.PatchOptions{FieldManager: "e2e-apply"})
			if err != nil {
				t.Fatalf("server-side apply: %v", err)
			}
			if managers := applied.GetManagedFields(); len(managers) == 0 || managers[0].Manager != "e2e-apply" {
				t.Errorf("managedFields after apply: %+v", managers)
			}

			if err := client.Delete(ctx, "empty", metav1.DeleteOptions{}); err != nil {
				t.Errorf("delete: %v", err)
			}
			if _, err := helmRelease(ctx, ns, kind.Kind.Layout.ReleasePrefix+"empty"); !apierrors.IsNotFound(err) {
				t.Errorf("HelmRelease after delete: %v", err)
			}
		})
	}
}

// TestCatalogKindsWithoutPrefixShareReleaseNames: two kinds whose definitions give no release
// prefix store objects of the same name in the same release; the second create is a 409 and the
// first object is untouched.
func TestCatalogKindsWithoutPrefixShareReleaseNames(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	applyDefinition(t, definition(t, "etcd"))
	applyDefinition(t, definition(t, "info"))
	awaitServed(t, cp.Dynamic, "etcds", ns)
	awaitServed(t, cp.Dynamic, "infos", ns)
	etcd := mustCreate(t, cp.Dynamic.Resource(gvr("etcds")).Namespace(ns),
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps.cozy.io/v1alpha1", "kind": "Etcd", "metadata": map[string]any{"name": "shared"}}})
	_, err := cp.Dynamic.Resource(gvr("infos")).Namespace(ns).Create(ctx,
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps.cozy.io/v1alpha1", "kind": "Info", "metadata": map[string]any{"name": "shared"}}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("an Info named like an existing Etcd: %v, want 409 AlreadyExists", err)
	}
	if got := mustGet(t, cp.Dynamic.Resource(gvr("etcds")).Namespace(ns), "shared"); got.GetResourceVersion() != etcd.GetResourceVersion() {
		t.Errorf("the Etcd changed: %s → %s", etcd.GetResourceVersion(), got.GetResourceVersion())
	}
	if _, err := cp.Dynamic.Resource(gvr("infos")).Namespace(ns).Get(ctx, "shared", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("GET info shared: %v, want 404 (the release is the Etcd's)", err)
	}
}

// TestCatalogChartValuesAreAValidSpec: a local chart's own values.yaml is accepted as the spec of
// its kind unchanged, and the real helm-controller installs it (Ready).
func TestCatalogChartValuesAreAValidSpec(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	for _, name := range []string{"postgres", "redis", "tenant"} {
		applyDefinition(t, definition(t, name))
	}
	for _, name := range []string{"postgres", "redis", "tenant"} {
		t.Run(name, func(t *testing.T) {
			kind := definedKind(t, definition(t, name))
			awaitServed(t, cp.Dynamic, kind.Kind.Resource, ns)
			raw, err := os.ReadFile(filepath.Join(repoRoot(), "artifacts", "charts", name, "values.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var values map[string]any
			if err := yaml.Unmarshal(raw, &values); err != nil {
				t.Fatal(err)
			}
			obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps.cozy.io/v1alpha1", "kind": kind.Kind.Kind, "spec": values}}
			obj.SetName("chartvalues")
			obj.SetLabels(map[string]string{fluxLabel: "true"})
			client := cp.Dynamic.Resource(gvr(kind.Kind.Resource)).Namespace(ns)
			created, err := client.Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Strict"})
			if err != nil {
				t.Fatalf("the chart's values.yaml as spec: %v", err)
			}
			if !reflect.DeepEqual(roundTrip(t, created.Object["spec"]), roundTrip(t, values)) {
				t.Errorf("the chart's values changed on the way in:\ngot  %v\nwant %v", created.Object["spec"], values)
			}
			eventually(t, 90*time.Second, name+" Ready", func(ctx context.Context) (bool, error) {
				got, err := client.Get(ctx, "chartvalues", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
				for _, c := range conditions {
					if m, _ := c.(map[string]any); m["type"] == "Ready" && m["status"] == "True" {
						return true, nil
					}
				}
				return false, nil
			})
			// Flux's events on the release are the object's, as for the typed kinds.
			eventually(t, 30*time.Second, "Flux's events copied onto the "+kind.Kind.Kind, func(ctx context.Context) (bool, error) {
				events, err := cp.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
					FieldSelector: "involvedObject.name=chartvalues,involvedObject.kind=" + kind.Kind.Kind})
				if err != nil {
					return false, err
				}
				return len(events.Items) > 0 && events.Items[0].InvolvedObject.UID == created.GetUID(), nil
			})
		})
	}
}

// TestCatalogTypedKindDefinitionsKeepTheTypedSchema: a definition of a typed kind's application
// kind does not replace the typed kind; the definition says so in an Event.
func TestCatalogTypedKindDefinitionsKeepTheTypedSchema(t *testing.T) {
	for _, name := range []string{"bucket", "vm-instance"} {
		applyDefinition(t, definition(t, name))
		msg := awaitDefinitionEvent(t, name, catalog.ReasonTypedKind)
		if !strings.Contains(msg, "typed kind") {
			t.Errorf("event on %s: %q", name, msg)
		}
	}
	if _, err := cp.Dynamic.Resource(gvr("vminstances")).Namespace("default").List(context.Background(), metav1.ListOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("vminstances served as a defined kind: %v", err)
	}
}

// typedProperty is a top-level spec property and a value of the wrong type for it.
type typedProperty struct {
	name  string
	wrong any
}

// firstTypedProperty finds a top-level property of a plain JSON type in the definition's schema.
func firstTypedProperty(t *testing.T, def *unstructured.Unstructured) (typedProperty, bool) {
	t.Helper()
	raw, _, _ := unstructured.NestedString(def.Object, "spec", "application", "openAPISchema")
	var schema struct {
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
	}
	if err := yaml.Unmarshal([]byte(raw), &schema); err != nil {
		t.Fatal(err)
	}
	for name, p := range schema.Properties {
		switch p.Type {
		case "boolean", "integer", "object", "array":
			return typedProperty{name, "not-a-" + p.Type}, true
		case "string":
			return typedProperty{name, map[string]any{"a": "b"}}, true
		}
	}
	return typedProperty{}, false
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	raw, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := yaml.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
