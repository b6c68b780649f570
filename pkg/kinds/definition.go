package kinds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/appobjects"
	"github.com/cozystack/apps-apiserver/pkg/openapi"
	"github.com/cozystack/apps-apiserver/pkg/release"
	"github.com/cozystack/apps-apiserver/pkg/tenanttree"
	"github.com/cozystack/apps-apiserver/pkg/validation"
)

// MaxSchemaBytes bounds a definition's openAPISchema. The platform's largest is ~60 KiB; a CRD's
// whole object is bounded by etcd's 1.5 MiB.
const MaxSchemaBytes = 1 << 20

// Defined is one kind served from an ApplicationDefinition: its release layout and schema as
// every kind has them, and the same kind described as a CustomResourceDefinition would be, from
// which its OpenAPI and its server-side apply type converter are built with
// apiextensions-apiserver's own builders.
type Defined struct {
	// Kind is the kind's description for the registry, cache and release mapping.
	Kind *release.Kind
	// Schema validates, defaults and coerces the kind's spec.
	Schema *validation.Schema
	// CRD describes the kind as a CustomResourceDefinition of apps.cozy.io would. It is never
	// stored anywhere; apiextensions-apiserver's validation has accepted it.
	CRD *apiextensionsv1.CustomResourceDefinition
	// Definition is the name of the ApplicationDefinition and Generation its generation, for
	// Events and logs.
	Definition string
	Generation int64
	// SchemaNotes are the changes made to the definition's schema to make it structural
	// (see structuralize), reported as an Event on the definition.
	SchemaNotes []string
	// SelectionNotes are the selectors of the definition's secrets, services and ingresses that
	// are not used (see appobjects.Compile), reported as well.
	SelectionNotes []string
}

// releasePrefixPattern is what a release-name prefix may hold: Helm release names are DNS labels.
var releasePrefixPattern = regexp.MustCompile(`^[a-z0-9-]*$`)

// validateRelease reports a release layout no kind can use.
func validateRelease(rel ApplicationRelease) error {
	if !releasePrefixPattern.MatchString(rel.Prefix) || len(rel.Prefix) > release.MaxReleaseNameLength-10 {
		return fmt.Errorf("spec.release.prefix %q: must be lowercase letters, digits and '-', at most %d characters", rel.Prefix, release.MaxReleaseNameLength-10)
	}
	if rel.ChartRef == nil || rel.ChartRef.Kind == "" || rel.ChartRef.Name == "" {
		return errors.New("spec.release.chartRef: kind and name are required")
	}
	return nil
}

// FromDefinition builds the kind an ApplicationDefinition describes. Every error says what is
// wrong with the definition, for the Event on it; nothing in a definition can make it panic.
func FromDefinition(def *ApplicationDefinition) (*Defined, error) {
	app, rel := def.Spec.Application, def.Spec.Release
	if app.Kind == "" || app.Plural == "" {
		return nil, errors.New("spec.application.kind and spec.application.plural are required")
	}
	if err := validateRelease(rel); err != nil {
		return nil, err
	}
	specSchema, notes, err := specSchemaOf(app.OpenAPISchema)
	if err != nil {
		return nil, fmt.Errorf("spec.application.openAPISchema: %w", err)
	}
	status, err := validation.ModelSchema(openapi.Definitions, appsv1alpha1.AppStatus{}.OpenAPIModelName())
	if err != nil {
		return nil, fmt.Errorf("the shared status schema: %w", err)
	}
	crd := describeAsCRD(app, specSchema, status)
	if err := validateCRD(crd); err != nil {
		return nil, fmt.Errorf("the kind it defines would not be a valid custom resource: %w", err)
	}
	objectSchema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.DeepCopy()
	delete(objectSchema.Properties, "status")
	s, err := validation.FromProps(app.Kind, objectSchema)
	if err != nil {
		return nil, err
	}
	gv := appsv1alpha1.SchemeGroupVersion
	own, selectionNotes := appobjects.CompileAll(def.Spec.Secrets, def.Spec.Services, def.Spec.Ingresses)
	kind := &release.Kind{
		Kind:            app.Kind,
		Resource:        app.Plural,
		Singular:        crd.Spec.Names.Singular,
		ApplicationKind: app.Kind,
		Layout:          release.Layout{ReleasePrefix: rel.Prefix, Chart: definedChart(rel.ChartRef), ReleaseLabels: rel.Labels},
		New: func() runtime.Object {
			u := &unstructured.Unstructured{Object: map[string]any{}}
			u.SetGroupVersionKind(gv.WithKind(app.Kind))
			return u
		},
		NewList: func() runtime.Object {
			l := &unstructured.UnstructuredList{Object: map[string]any{}}
			l.SetGroupVersionKind(gv.WithKind(app.Kind + "List"))
			return l
		},
		DefaultSpec:  s.Default,
		OwnObjects:   own,
		NestsTenants: app.Kind == tenanttree.TenantKind,
	}
	return &Defined{Kind: kind, Schema: s, CRD: crd, Definition: def.Name, Generation: def.Generation, SchemaNotes: notes, SelectionNotes: selectionNotes}, nil
}

// definedChart is the release layout of a defined kind: the definition's chart, reconciled as
// cozystack-api reconciles its releases (the Flux shard comes from the definition's labels).
func definedChart(ref *ChartRef) release.Chart {
	chart := cozystackChart(ref.Name)
	chart.ChartRef = &release.SourceRef{Kind: ref.Kind, Name: ref.Name, Namespace: ref.Namespace}
	chart.ShardingKey = ""
	return chart
}

// specSchemaOf parses a definition's openAPISchema and makes it structural.
func specSchemaOf(raw string) (*apiextensionsv1.JSONSchemaProps, []string, error) {
	if len(raw) > MaxSchemaBytes {
		return nil, nil, fmt.Errorf("is %d bytes, more than the %d this server accepts", len(raw), MaxSchemaBytes)
	}
	if raw == "" {
		raw = "{}"
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, nil, fmt.Errorf("is not a JSON object: %w", err)
	}
	notes, err := structuralize(doc)
	if err != nil {
		return nil, nil, err
	}
	// The spec always exists, so an empty spec gets the schema's defaults.
	doc["type"] = "object"
	if _, ok := doc["default"]; !ok {
		doc["default"] = map[string]any{}
	}
	normalized, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	var props apiextensionsv1.JSONSchemaProps
	if err := json.Unmarshal(normalized, &props); err != nil {
		return nil, nil, fmt.Errorf("is not a schema a custom resource can have: %w", err)
	}
	return &props, notes, nil
}

// describeAsCRD is the kind as a namespaced CRD of apps.cozy.io with a status subresource, the
// category every kind has and the printer columns every kind shows.
func describeAsCRD(app ApplicationNames, spec, status *apiextensionsv1.JSONSchemaProps) *apiextensionsv1.CustomResourceDefinition {
	gv := appsv1alpha1.SchemeGroupVersion
	singular := app.Singular
	if singular == "" {
		singular = strings.ToLower(app.Kind)
	}
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiextensionsv1.SchemeGroupVersion.String(), Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: app.Plural + "." + gv.Group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: gv.Group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Plural: app.Plural, Singular: singular, Kind: app.Kind, ListKind: app.Kind + "List", Categories: []string{release.Category},
			},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: gv.Version, Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type:       "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": *spec, "status": *status},
				}},
				Subresources:             &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				AdditionalPrinterColumns: (&release.Kind{}).TableColumns(),
			}},
		},
		Status: apiextensionsv1.CustomResourceDefinitionStatus{
			AcceptedNames: apiextensionsv1.CustomResourceDefinitionNames{
				Plural: app.Plural, Singular: singular, Kind: app.Kind, ListKind: app.Kind + "List", Categories: []string{release.Category},
			},
			StoredVersions: []string{gv.Version},
		},
	}
}

// validateCRD runs apiextensions-apiserver's validation of a CRD over the description: names,
// structural schema, defaults valid under their schema, CEL rules and their cost.
func validateCRD(crd *apiextensionsv1.CustomResourceDefinition) error {
	var internal apiextensions.CustomResourceDefinition
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(crd, &internal, nil); err != nil {
		return err
	}
	if errs := apiextensionsvalidation.ValidateCustomResourceDefinition(context.Background(), &internal); len(errs) > 0 {
		return errs.ToAggregate()
	}
	return nil
}

// GroupVersionKind is a defined kind's identity.
func (d *Defined) GroupVersionKind() schema.GroupVersionKind {
	return appsv1alpha1.SchemeGroupVersion.WithKind(d.Kind.Kind)
}
