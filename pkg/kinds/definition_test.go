package kinds

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

// catalogDefinitions reads this project's own definitions in artifacts/catalog.
func catalogDefinitions(t *testing.T) map[string]*ApplicationDefinition {
	t.Helper()
	files, err := filepath.Glob("../../artifacts/catalog/*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("catalog definitions: %v (%d files)", err, len(files))
	}
	defs := map[string]*ApplicationDefinition{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		def, err := DecodeApplicationDefinition(&unstructured.Unstructured{Object: obj})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		defs[def.Name] = def
	}
	return defs
}

func TestEveryCatalogDefinitionBuildsAKind(t *testing.T) {
	for name, def := range catalogDefinitions(t) {
		d, err := FromDefinition(def)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d.Kind.Kind != def.Spec.Application.Kind || d.Kind.Resource != def.Spec.Application.Plural || d.Kind.Layout.ReleasePrefix != def.Spec.Release.Prefix {
			t.Errorf("%s: kind %s/%s prefix %q does not follow the definition", name, d.Kind.Kind, d.Kind.Resource, d.Kind.Layout.ReleasePrefix)
		}
		if d.Kind.Layout.Chart.ChartRef == nil || d.Kind.Layout.Chart.ChartRef.Name != def.Spec.Release.ChartRef.Name {
			t.Errorf("%s: chartRef %+v, want %s", name, d.Kind.Layout.Chart.ChartRef, def.Spec.Release.ChartRef.Name)
		}
		// An empty spec gets the schema's defaults and is valid.
		obj := map[string]any{"spec": map[string]any{}}
		d.Schema.Default(obj)
		if errs := d.Schema.Validate(context.Background(), obj, nil); len(errs) > 0 {
			t.Errorf("%s: the defaults are not a valid spec: %v", name, errs)
		}
	}
}

// TestChartValuesAreAValidSpec: each local chart's own values.yaml is accepted as the spec of its
// kind, unchanged by defaulting.
func TestChartValuesAreAValidSpec(t *testing.T) {
	defs := catalogDefinitions(t)
	for _, chart := range []string{"postgres", "redis", "tenant"} {
		d, err := FromDefinition(defs[chart])
		if err != nil {
			t.Fatalf("%s: %v", chart, err)
		}
		raw, err := os.ReadFile(filepath.Join("../../artifacts/charts", chart, "values.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var values map[string]any
		if err := yaml.Unmarshal(raw, &values); err != nil {
			t.Fatal(err)
		}
		obj := map[string]any{"spec": values}
		if errs := d.Schema.Validate(context.Background(), obj, nil); len(errs) > 0 {
			t.Errorf("%s: values.yaml is not a valid spec: %v", chart, errs)
		}
		if unknown := d.Schema.UnknownFields(obj); len(unknown) > 0 {
			t.Errorf("%s: values.yaml has fields the schema does not declare: %v", chart, unknown)
		}
	}
}

func TestWrongTypeIsReportedAtItsPath(t *testing.T) {
	d, err := FromDefinition(catalogDefinitions(t)["redis"])
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{"spec": map[string]any{"replicas": "three", "resourcesPreset": "huge"}}
	errs := d.Schema.Validate(context.Background(), obj, nil)
	got := errs.ToAggregate().Error()
	for _, want := range []string{"spec.replicas", "spec.resourcesPreset"} {
		if !strings.Contains(got, want) {
			t.Errorf("errors %q do not name %s", got, want)
		}
	}
}

func definitionWithSchema(schema string) *ApplicationDefinition {
	def := &ApplicationDefinition{}
	def.Name = "widget"
	def.Spec.Application = ApplicationNames{Kind: "Widget", Plural: "widgets", Singular: "widget", OpenAPISchema: schema}
	def.Spec.Release = ApplicationRelease{Prefix: "widget-", ChartRef: &ChartRef{Kind: "ExternalArtifact", Name: "widget", Namespace: "cozy-system"}}
	return def
}

func TestNonStructuralSchemasAreMadeStructural(t *testing.T) {
	d, err := FromDefinition(definitionWithSchema(`{"type":"object","properties":{
		"extra":{"type":"object","additionalProperties":true},
		"untyped":{"description":"anything"},
		"nested":{"properties":{"a":{"type":"string","default":"x"}}},
		"list":{"items":{"type":"string"}},
		"free":{"type":"object"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.SchemaNotes) != 5 {
		t.Errorf("notes %q, want one per rewritten schema", d.SchemaNotes)
	}
	obj := map[string]any{"spec": map[string]any{"extra": map[string]any{"k": map[string]any{"deep": int64(1)}}, "untyped": int64(3), "nested": map[string]any{}, "free": map[string]any{"x": "y"}}}
	d.Schema.Default(obj)
	if errs := d.Schema.Validate(context.Background(), obj, nil); len(errs) > 0 {
		t.Fatalf("free-form values refused: %v", errs)
	}
	if unknown := d.Schema.UnknownFields(obj); len(unknown) > 0 {
		t.Errorf("free-form values would be pruned: %v", unknown)
	}
	if got := obj["spec"].(map[string]any)["nested"].(map[string]any)["a"]; got != "x" {
		t.Errorf("nested defaults not applied: %v", obj)
	}
}

func TestHostileDefinitionsAreRefusedWithAReason(t *testing.T) {
	deep := strings.Repeat(`{"type":"object","properties":{"a":`, 100) + `{"type":"string"}` + strings.Repeat(`}}`, 100)
	for name, tc := range map[string]struct {
		def  *ApplicationDefinition
		want string
	}{
		"not JSON":    {definitionWithSchema(`{"type":`), "not a JSON object"},
		"ref":         {definitionWithSchema(`{"type":"object","properties":{"a":{"$ref":"#/definitions/x"}}}`), "$ref is not supported"},
		"deep":        {definitionWithSchema(deep), "deeper than"},
		"huge":        {definitionWithSchema(`{"description":"` + strings.Repeat("x", MaxSchemaBytes) + `"}`), "bytes"},
		"bad default": {definitionWithSchema(`{"type":"object","properties":{"n":{"type":"integer","default":"x"}}}`), "default"},
		"bad plural": {func() *ApplicationDefinition {
			d := definitionWithSchema(`{}`)
			d.Spec.Application.Plural = "Widgets!"
			return d
		}(), "plural"},
		"bad prefix": {func() *ApplicationDefinition {
			d := definitionWithSchema(`{}`)
			d.Spec.Release.Prefix = "Wid_"
			return d
		}(), "prefix"},
		"no chart": {func() *ApplicationDefinition {
			d := definitionWithSchema(`{}`)
			d.Spec.Release.ChartRef = nil
			return d
		}(), "chartRef"},
		"not structural": {definitionWithSchema(`{"type":"object","properties":{"a":{"type":"string","patternProperties":{"x":{"type":"string"}}}}}`), "patternProperties is not supported"},
	} {
		_, err := FromDefinition(tc.def)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, tc.want)
		}
	}
}

// The Tenant kind nests tenants: its objects report the namespace their release makes; no other
// kind does.
func TestTenantsReportTheirNamespace(t *testing.T) {
	for name, def := range catalogDefinitions(t) {
		d, err := FromDefinition(def)
		if err != nil {
			t.Fatal(err)
		}
		if d.Kind.NestsTenants != (name == "tenant") {
			t.Errorf("%s: NestsTenants = %v", name, d.Kind.NestsTenants)
		}
		if name != "tenant" {
			continue
		}
		for _, tc := range []struct{ namespace, want string }{{"tenant-root", "tenant-team"}, {"tenant-a", "tenant-a-team"}} {
			obj, err := d.Kind.ToObject(appsv1alpha1.SchemeGroupVersion, d.Kind.NewRelease(tc.namespace, "team"))
			if err != nil {
				t.Fatal(err)
			}
			got, _, _ := unstructured.NestedString(obj.(*unstructured.Unstructured).Object, "status", "namespace")
			if got != tc.want {
				t.Errorf("team in %s: status.namespace %q, want %q", tc.namespace, got, tc.want)
			}
		}
	}
}
