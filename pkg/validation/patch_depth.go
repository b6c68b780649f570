package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
)

// CheckMergePatchDepth reports the values of a JSON merge patch's spec that nest deeper than the
// depth limit, as validation would report them on the patched object, before the patch is
// applied: applying a patch nested thousands of levels deep costs the patch library seconds of
// CPU, and the result is refused anyway. Every map of a merge patch exists in the result (a map
// holding only nulls becomes an empty map) and a list replaces what was there, so each error
// found here is one validation would find. Only depth is checked: a patch's keys that delete
// (null) may bring a map back within the other limits. A body that is not a JSON object, or whose
// spec is not one, is left to the patch handler.
func (s *Schema) CheckMergePatchDepth(patch []byte) field.ErrorList {
	// Every merge patch passes here: a byte scan rules out the common shallow one without
	// decoding it. A container at depth d below spec is nested d+2 deep in the body.
	if nesting(patch) < s.limits.MaxDepth+2 {
		return nil
	}
	var body map[string]any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(patch, &body); err != nil {
		return nil
	}
	spec, ok := body["spec"].(map[string]any)
	if !ok {
		return nil
	}
	return s.limits.depthErrors(field.NewPath("spec"), spec, 0)
}

// depthErrors walks value as Limits.walk does and reports where it nests too deep, only that.
func (l Limits) depthErrors(path *field.Path, value any, depth int) field.ErrorList {
	var errs field.ErrorList
	switch v := value.(type) {
	case map[string]any:
		if depth >= l.MaxDepth {
			return field.ErrorList{l.tooDeep(path)}
		}
		for key, child := range v {
			if len(key) > l.MaxStringLength {
				continue
			}
			if errs = append(errs, l.depthErrors(keyPath(path, key), child, depth+1)...); len(errs) > maxReported {
				return errs
			}
		}
	case []any:
		if depth >= l.MaxDepth {
			return field.ErrorList{l.tooDeep(path)}
		}
		for i, child := range v {
			if errs = append(errs, l.depthErrors(path.Index(i), child, depth+1)...); len(errs) > maxReported {
				return errs
			}
		}
	}
	return errs
}

// nesting is the deepest nesting of JSON objects and arrays in data, brackets inside strings not
// counted; malformed input only makes it a guess, which the decoder then judges.
func nesting(data []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
