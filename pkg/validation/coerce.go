package validation

import (
	"fmt"
	"math"

	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Coerce prepares a request's {"spec": ...} content, parsed from JSON, before it becomes a Go
// struct, the way apiextensions-apiserver prepares a custom resource while decoding it. Typed
// decoding would lose information (a wrong type is a bare "cannot unmarshal" for the whole body,
// a zero value vanishes under omitempty), so here, with the JSON still at hand:
//   - a spec over the size limits is removed and reported;
//   - nulls where the schema allows none are dropped, as for a custom resource;
//   - a value of the wrong type (a string for a boolean, a quantity that does not parse, an
//     integer out of its format's range) is removed and reported with its field path, so the
//     request can still be decoded and answered with a 422 that names every such field;
//   - an integral number written as a float (1e3) becomes an integer, as JSON allows;
//   - defaults fill absent fields only.
//
// The returned errors are to be reported with validation's; obj is changed in place.
func (s *Schema) Coerce(obj map[string]any) field.ErrorList {
	if errs := s.CheckLimits(obj); len(errs) > 0 {
		delete(obj, "spec")
		return errs
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, s.structural)
	var errs field.ErrorList
	if spec, ok := obj["spec"]; ok {
		keep, specErrs := coerceValue(field.NewPath("spec"), s.structural.Properties["spec"], spec)
		errs = specErrs
		if !keep {
			delete(obj, "spec")
		}
	}
	structuraldefaulting.Default(obj, s.structural)
	return errs
}

// coerceValue checks v against s, fixing what JSON allows to fix in place, and reports whether v
// can stay. Values the schema does not declare are left to pruning and strict decoding.
func coerceValue(path *field.Path, s schema.Structural, v any) (bool, field.ErrorList) {
	if v == nil {
		return true, nil
	}
	if s.XIntOrString {
		return coerceIntOrString(path, s, v)
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return false, field.ErrorList{typeInvalid(path, v, "object")}
		}
		var errs field.ErrorList
		for key, child := range m {
			var childSchema *schema.Structural
			var childPath *field.Path
			if p, ok := s.Properties[key]; ok {
				childSchema, childPath = &p, path.Child(key)
			} else if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
				childSchema, childPath = s.AdditionalProperties.Structural, path.Key(key)
			}
			if childSchema == nil {
				continue
			}
			keep, childErrs := coerceValue(childPath, *childSchema, child)
			errs = append(errs, childErrs...)
			if !keep {
				delete(m, key)
			}
		}
		return true, errs
	case "array":
		list, ok := v.([]any)
		if !ok {
			return false, field.ErrorList{typeInvalid(path, v, "array")}
		}
		if s.Items == nil {
			return true, nil
		}
		var errs field.ErrorList
		kept := list[:0]
		for i, item := range list {
			if item == nil {
				// A null item is never a value the Go types can hold.
				errs = append(errs, typeInvalid(path.Index(i), item, s.Items.Type))
				continue
			}
			keep, itemErrs := coerceValue(path.Index(i), *s.Items, item)
			errs = append(errs, itemErrs...)
			if keep {
				kept = append(kept, item)
			}
		}
		if len(kept) != len(list) {
			// The list is refused anyway; what is left of it only has to decode.
			return false, errs
		}
		return true, errs
	case "string":
		if _, ok := v.(string); !ok {
			return false, field.ErrorList{typeInvalid(path, v, "string")}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return false, field.ErrorList{typeInvalid(path, v, "boolean")}
		}
	case "number":
		switch v.(type) {
		case int64, float64:
		default:
			return false, field.ErrorList{typeInvalid(path, v, "number")}
		}
	case "integer":
		return coerceInteger(path, s, v)
	}
	return true, nil
}

// coerceInteger accepts int64 and integral floats (JSON's 1e3), and refuses values outside the
// declared format's range, which the Go field could not hold.
func coerceInteger(path *field.Path, s schema.Structural, v any) (bool, field.ErrorList) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x > math.MaxInt64 {
			return false, field.ErrorList{typeInvalid(path, v, "integer")}
		}
		n = int64(x)
	default:
		return false, field.ErrorList{typeInvalid(path, v, "integer")}
	}
	if s.ValueValidation != nil && s.ValueValidation.Format == "int32" && (n < math.MinInt32 || n > math.MaxInt32) {
		return false, field.ErrorList{field.Invalid(path, v, fmt.Sprintf("%s in body must be of type int32: out of range", path))}
	}
	return true, nil
}

// coerceIntOrString accepts what a resource.Quantity (the only int-or-string the kinds use) can
// hold: integers, floats and strings that parse as quantities.
func coerceIntOrString(path *field.Path, s schema.Structural, v any) (bool, field.ErrorList) {
	switch x := v.(type) {
	case int64, float64:
		return true, nil
	case string:
		if _, err := resource.ParseQuantity(x); err != nil {
			pattern := ""
			if s.ValueValidation != nil {
				pattern = s.ValueValidation.Pattern
			}
			return false, field.ErrorList{field.Invalid(path, x, fmt.Sprintf("%s in body should match '%s'", path, pattern))}
		}
		return true, nil
	}
	return false, field.ErrorList{typeInvalid(path, v, "integer or string")}
}

// typeInvalid words a type error as kube-apiserver does for a custom resource.
func typeInvalid(path *field.Path, v any, want string) *field.Error {
	return field.TypeInvalid(path, v, fmt.Sprintf("%s in body must be of type %s: %q", path, want, jsonType(v)))
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
