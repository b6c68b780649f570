// Package validation enforces each kind's schema, generated from its Go types, with
// apiextensions-apiserver's own machinery, so an apps.cozy.io object is validated exactly like a
// custom resource: OpenAPI validation and CEL rules with ratcheting on update (an unchanged
// invalid field is accepted, a changed one is not), transition rules, list-type invariants and
// defaulting.
package validation

import (
	"context"
	"fmt"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/common"
	openapicommon "k8s.io/kube-openapi/pkg/common"
)

// Schema validates and defaults the spec of one kind. Objects are passed as {"spec": ...} maps,
// so field paths read spec.nodeGroups[md0].maxReplicas as for a CRD.
type Schema struct {
	// quantities says the kind's int-or-string fields are resource.Quantity Go fields (typed kinds).
	quantities bool
	limits     Limits
	structural *schema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// New builds the spec schema of the kind with the OpenAPI model name kindModel. It fails at
// start-up, not at request time, if the Go types do not make a valid structural schema.
func New(getDefinitions openapicommon.GetOpenAPIDefinitions, kindModel string) (*Schema, error) {
	v1Props, err := specSchema(getDefinitions, kindModel)
	if err != nil {
		return nil, err
	}
	s, err := FromProps(kindModel, v1Props)
	if err != nil {
		return nil, err
	}
	s.quantities = true
	return s, nil
}

// FromProps builds the schema of {"spec": ...} from a CRD-style schema of that object (a typed
// kind's, generated from its Go types, or a defined kind's, from its ApplicationDefinition). name
// says whose schema it is in errors.
func FromProps(name string, v1Props *apiextensionsv1.JSONSchemaProps) (*Schema, error) {
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1Props, &internal, nil); err != nil {
		return nil, fmt.Errorf("converting the schema of %s: %w", name, err)
	}
	structural, err := schema.NewStructural(&internal)
	if err != nil {
		return nil, fmt.Errorf("the schema of %s is not structural: %w", name, err)
	}
	if errs := schema.ValidateStructural(nil, structural); len(errs) > 0 {
		return nil, fmt.Errorf("the schema of %s is not structural: %v", name, errs.ToAggregate())
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, fmt.Errorf("building the validator of %s: %w", name, err)
	}
	return &Schema{
		limits:     DefaultLimits,
		structural: structural,
		validator:  validator,
		cel:        cel.NewValidator(structural, false, celconfig.PerCallLimit),
	}, nil
}

// Default fills in the schema's defaults, as kube-apiserver does for a CRD before validation.
func (s *Schema) Default(obj map[string]any) {
	structuraldefaulting.Default(obj, s.structural)
}

// Validate checks a new object. decodeErrs are what Coerce found in the request (values it had
// to remove); they are reported first, and what validation says about the removed values is not.
func (s *Schema) Validate(ctx context.Context, obj map[string]any, decodeErrs field.ErrorList) field.ErrorList {
	if errs := s.CheckLimits(obj); len(errs) > 0 {
		// Nothing more is validated over a value this large: it is refused anyway.
		return errs
	}
	errs := withDecodeErrors(decodeErrs, apiservervalidation.ValidateCustomResource(nil, obj, s.validator))
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, s.structural, obj)...)
	if blocked := blocking(errs); blocked != nil {
		return append(errs, blocked)
	}
	celErrs, _ := s.cel.Validate(ctx, nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// ValidateUpdate checks a changed object with ratcheting: errors in parts that did not change are
// forgiven, so a schema tightened after objects were stored does not block unrelated updates.
// Transition rules (oldSelf) apply.
func (s *Schema) ValidateUpdate(ctx context.Context, obj, old map[string]any, decodeErrs field.ErrorList) field.ErrorList {
	if errs := ratchetLimits(s.CheckLimits(obj), s.CheckLimits(old)); len(errs) > 0 {
		return errs
	}
	correlated := common.NewCorrelatedObject(obj, old, &model.Structural{Structural: s.structural})
	errs := withDecodeErrors(decodeErrs, apiservervalidation.ValidateCustomResourceUpdate(nil, obj, old, s.validator, apiservervalidation.WithRatcheting(correlated)))
	if oldErrs := structurallisttype.ValidateListSetsAndMaps(nil, s.structural, old); len(oldErrs) == 0 {
		errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, s.structural, obj)...)
	}
	if blocked := blocking(errs); blocked != nil {
		return append(errs, blocked)
	}
	celErrs, _ := s.cel.Validate(ctx, nil, s.structural, obj, old, celconfig.RuntimeCELCostBudget, cel.WithRatcheting(correlated))
	return append(errs, celErrs...)
}

// withDecodeErrors puts the decode errors before validation's, leaving out what validation says
// about the values that were removed (a required field that was only removed is not missing).
func withDecodeErrors(decodeErrs, errs field.ErrorList) field.ErrorList {
	if len(decodeErrs) == 0 {
		return errs
	}
	removed := make(map[string]bool, len(decodeErrs))
	for _, e := range decodeErrs {
		removed[e.Field] = true
	}
	out := append(field.ErrorList{}, decodeErrs...)
	for _, e := range errs {
		if !removed[e.Field] {
			out = append(out, e)
		}
	}
	return out
}

// blocking mirrors apiextensions-apiserver (which keeps its version unexported): CEL rules are
// not evaluated over values that already failed type, enum, required or size checks, and the
// client is told so.
func blocking(errs field.ErrorList) *field.Error {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
		}
	}
	return nil
}

// UnknownFields lists the paths of fields in obj that the schema does not declare (fields under
// free-form parts such as addon values are declared). obj is not changed.
func (s *Schema) UnknownFields(obj map[string]any) []string {
	return structuralpruning.PruneWithOptions(runtime.DeepCopyJSON(obj), s.structural, false, schema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
}

// PruneUnknown removes the fields of {"spec": ...} (and of the object's root, but apiVersion, kind
// and metadata) that the schema does not declare, as kube-apiserver prunes a custom resource, and
// returns their paths for the unknown-field warnings and strict field validation. A typed kind's
// decoding into its Go type does the same.
func (s *Schema) PruneUnknown(obj map[string]any) []string {
	return structuralpruning.PruneWithOptions(obj, s.structural, true, schema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
}

// CheckLimits reports every part of {"spec": ...} that exceeds the size limits.
func (s *Schema) CheckLimits(obj map[string]any) field.ErrorList {
	return s.limits.Check(field.NewPath("spec"), obj["spec"])
}

// ratchetLimits forgives a limit error at a path where the stored object already exceeded the
// same limit (a release written by someone else), as schema validation ratchets unchanged fields.
func ratchetLimits(errs, oldErrs field.ErrorList) field.ErrorList {
	if len(oldErrs) == 0 {
		return errs
	}
	old := make(map[string]bool, len(oldErrs))
	for _, e := range oldErrs {
		old[string(e.Type)+" "+e.Field] = true
	}
	var out field.ErrorList
	for _, e := range errs {
		if !old[string(e.Type)+" "+e.Field] {
			out = append(out, e)
		}
	}
	return out
}
