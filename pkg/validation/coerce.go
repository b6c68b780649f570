package validation

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"

	"github.com/go-openapi/swag/conv"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
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
//   - an integral number written as a float (1e3) is an integer, as JSON allows;
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
		// The walk only reads and collects what to remove, so the validator explains the
		// removals on the body as sent without a copy of it; the removals happen afterwards.
		var removals []func()
		if !coerceValue(field.NewPath("spec"), s.structural.Properties["spec"], spec, s.quantities, &errs, &removals) {
			removals = append(removals, func() { delete(obj, "spec") })
		}
		errs = s.explain(obj, errs)
		for _, remove := range removals {
			remove()
		}
	}
	structuraldefaulting.Default(obj, s.structural)
	return errs
}

// explain words the removal of each value as kube-apiserver's validator words it for a custom
// resource (same messages, same number of causes), falling back to the walker's own error where
// the validator has nothing to say (an integer beyond its Go type's range).
func (s *Schema) explain(original map[string]any, removed field.ErrorList) field.ErrorList {
	if len(removed) == 0 {
		return nil
	}
	validatorErrs := apiservervalidation.ValidateCustomResource(nil, original, s.validator)
	validatorErrs = append(validatorErrs, structurallisttype.ValidateListSetsAndMaps(nil, s.structural, original)...)
	var out field.ErrorList
	for _, e := range validatorErrs {
		// Errors without a path (an anyOf no branch of which matched) belong to the removed
		// values: the other values are still to be validated.
		if e.Field == "" || e.Field == "<nil>" {
			out = append(out, e)
		}
	}
	used := make([]bool, len(validatorErrs))
	for _, r := range removed {
		// A list with an invalid item is removed whole, so everything said about its items counts.
		scope := listItem.ReplaceAllString(r.Field, "")
		found := false
		for i, e := range validatorErrs {
			if under(e.Field, scope) || under(bracketsAsDots(e.Field), scope) {
				found = true
				if !used[i] {
					used[i] = true
					out = append(out, e)
				}
			}
		}
		if !found {
			out = append(out, r)
		}
	}
	return out
}

// coerceValue checks v against s and reports whether v can stay; each value that cannot is
// reported in errs, and its removal from its parent map is added to removals. v is not changed.
// Values the schema does not declare are left to pruning and strict decoding.
func coerceValue(path *field.Path, s schema.Structural, v any, quantities bool, errs *field.ErrorList, removals *[]func()) bool {
	if v == nil {
		return true
	}
	report := func(errList field.ErrorList) bool {
		*errs = append(*errs, errList...)
		return len(errList) == 0
	}
	if s.XIntOrString {
		return report(checkIntOrString(path, s, v, quantities))
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return report(field.ErrorList{typeInvalid(path, v, "object")})
		}
		for key, child := range m {
			var childSchema *schema.Structural
			var childPath *field.Path
			if p, ok := s.Properties[key]; ok {
				childSchema, childPath = &p, path.Child(key)
			} else if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
				// kube-apiserver's validator writes map keys as it writes fields.
				childSchema, childPath = s.AdditionalProperties.Structural, path.Child(key)
			}
			if childSchema == nil {
				continue
			}
			if !coerceValue(childPath, *childSchema, child, quantities, errs, removals) {
				*removals = append(*removals, func() { delete(m, key) })
			}
		}
		return true
	case "array":
		list, ok := v.([]any)
		if !ok {
			return report(field.ErrorList{typeInvalid(path, v, "array")})
		}
		if s.Items == nil {
			return true
		}
		keep := true
		for i, item := range list {
			if item == nil {
				// A null item is never a value the Go types can hold.
				keep = report(field.ErrorList{typeInvalid(path.Index(i), item, s.Items.Type)}) && keep
				continue
			}
			// A list with an invalid item is refused anyway; it is removed whole.
			keep = coerceValue(path.Index(i), *s.Items, item, quantities, errs, removals) && keep
		}
		return keep
	case "string":
		if _, ok := v.(string); !ok {
			return report(field.ErrorList{typeInvalid(path, v, "string")})
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return report(field.ErrorList{typeInvalid(path, v, "boolean")})
		}
	case "number":
		switch v.(type) {
		case int64, float64:
		default:
			return report(field.ErrorList{typeInvalid(path, v, "number")})
		}
	case "integer":
		return report(checkInteger(path, s, v))
	}
	return true
}

// checkInteger accepts int64 and integral floats (JSON's 1e3, which decodes into an integer
// field), and refuses values outside the declared format's range, which the Go field could not
// hold.
func checkInteger(path *field.Path, s schema.Structural, v any) field.ErrorList {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case float64:
		if !jsonInteger(x) {
			return field.ErrorList{typeInvalid(path, v, "integer")}
		}
		n = int64(x)
	default:
		return field.ErrorList{typeInvalid(path, v, "integer")}
	}
	if s.ValueValidation != nil && s.ValueValidation.Format == "int32" && (n < math.MinInt32 || n > math.MaxInt32) {
		return field.ErrorList{field.Invalid(path, v, fmt.Sprintf("%s in body must be of type int32: out of range", path))}
	}
	return nil
}

// checkIntOrString accepts integers and strings; with quantities (a typed kind, whose only
// int-or-string fields are resource.Quantity), only strings that parse as quantities. A defined
// kind's int-or-string is a JSON value as for a CRD: its pattern, if any, is the validator's.
func checkIntOrString(path *field.Path, s schema.Structural, v any, quantities bool) field.ErrorList {
	switch x := v.(type) {
	case int64:
		return nil
	case float64:
		// int-or-string takes integers: 1e3 is one, 2.5 is not.
		if !jsonInteger(x) {
			return field.ErrorList{typeInvalid(path, v, "integer or string")}
		}
		return nil
	case string:
		if !quantities {
			return nil
		}
		// The schema's pattern first, as written: ParseQuantity also takes strings the pattern
		// refuses ("Gi", "+", "m" all parse as 0), which would be stored canonicalized.
		pattern := ""
		if s.ValueValidation != nil {
			pattern = s.ValueValidation.Pattern
		}
		if _, err := resource.ParseQuantity(x); err != nil || !matches(pattern, x) {
			return field.ErrorList{field.Invalid(path, x, fmt.Sprintf("%s in body should match '%s'", path, pattern))}
		}
		return nil
	}
	return field.ErrorList{typeInvalid(path, v, "integer or string")}
}

// jsonInteger says whether a number decoded as a float is an integer as the schema validator
// sees it (integral and within ±2^53: beyond, a JSON number is no longer exact), so that numbers
// beyond int64 written as integers (-9223372036854775809, which a float would round into range)
// are refused as for a custom resource rather than stored rounded.
func jsonInteger(f float64) bool {
	return conv.IsFloat64AJSONInteger(f) && f == math.Trunc(f)
}

// patterns caches compiled schema patterns: the typed kinds have a handful.
var patterns sync.Map

// matches reports whether value matches the schema pattern ("" matches everything); a pattern
// that does not compile matches nothing.
func matches(pattern, value string) bool {
	if pattern == "" {
		return true
	}
	re, ok := patterns.Load(pattern)
	if !ok {
		compiled, err := regexp.Compile(pattern)
		if err != nil {
			return false
		}
		re, _ = patterns.LoadOrStore(pattern, compiled)
	}
	return re.(*regexp.Regexp).MatchString(value)
}

// under reports whether path is field or inside it.
func under(path, field string) bool {
	return path == field || strings.HasPrefix(path, field+".") || strings.HasPrefix(path, field+"[")
}

// bracketsAsDots rewrites map keys written as [key] (list-type validation's style) as .key (the
// schema validator's), so both kinds of error are matched to the values the walker removed.
func bracketsAsDots(path string) string {
	return mapKey.ReplaceAllString(path, ".$1")
}

var listItem = regexp.MustCompile(`\[[0-9]+\]$`)

var mapKey = regexp.MustCompile(`\[([^\]0-9][^\]]*)\]`)

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
