package kinds

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/runtime"
)

// MaxSchemaDepth bounds how deeply a definition's schema may nest. The platform's deepest is under
// 10 levels; a CRD's schema is bounded only by its size, but every level costs the validators and
// the OpenAPI builders recursion, so a hostile definition is refused here instead.
const MaxSchemaDepth = 64

// structuralize rewrites a chart's values schema, as the platform generates it, into the
// structural schema a CRD author would write for the same values, and returns a note per change.
// The rules, each what a CRD author does by hand:
//
//   - `additionalProperties: true` (any keys, any values) becomes
//     `x-kubernetes-preserve-unknown-fields: true`; `additionalProperties: false` is dropped
//     (pruning already drops undeclared fields).
//   - a schema with both `properties` and a schema in `additionalProperties` keeps its properties
//     and preserves the other keys unvalidated (structural schemas allow only one of them).
//   - a schema without `type` gets `object` if it has properties or additionalProperties,
//     `array` if it has items; one with neither (and not int-or-string) is a free-form value and
//     gets `x-kubernetes-preserve-unknown-fields: true`.
//   - `type: object` with neither properties nor additionalProperties is a free-form map and gets
//     `x-kubernetes-preserve-unknown-fields: true`, or pruning would empty it.
//   - an object's `default` is completed with its properties' defaults (see completeDefault).
//
// Everything else is kept as written; what a structural schema cannot hold (`$ref`,
// `patternProperties`, …) is then refused by apiextensions-apiserver's own validation with its
// field path. The document is changed in place.
func structuralize(doc map[string]any) ([]string, error) {
	if deeperThan(doc, 4*MaxSchemaDepth) {
		return nil, fmt.Errorf("nests deeper than %d levels", 4*MaxSchemaDepth)
	}
	var notes []string
	if err := structuralizeNode(doc, "", 0, &notes); err != nil {
		return nil, err
	}
	sort.Strings(notes)
	return notes, nil
}

func structuralizeNode(node map[string]any, path string, depth int, notes *[]string) error {
	if depth > MaxSchemaDepth {
		return fmt.Errorf("%s: nests deeper than %d levels", displayPath(path), MaxSchemaDepth)
	}
	note := func(format string, args ...any) {
		*notes = append(*notes, displayPath(path)+": "+fmt.Sprintf(format, args...))
	}
	_, hasProperties := node["properties"].(map[string]any)
	switch additional := node["additionalProperties"].(type) {
	case bool:
		delete(node, "additionalProperties")
		if additional {
			node["x-kubernetes-preserve-unknown-fields"] = true
			note("additionalProperties: true became x-kubernetes-preserve-unknown-fields: true")
		}
	case map[string]any:
		if hasProperties {
			delete(node, "additionalProperties")
			node["x-kubernetes-preserve-unknown-fields"] = true
			note("properties with additionalProperties: the other keys are kept unvalidated (x-kubernetes-preserve-unknown-fields)")
		}
	}
	_, hasAdditional := node["additionalProperties"].(map[string]any)
	_, hasItems := node["items"].(map[string]any)
	preserve, _ := node["x-kubernetes-preserve-unknown-fields"].(bool)
	intOrString, _ := node["x-kubernetes-int-or-string"].(bool)
	typ, _ := node["type"].(string)
	switch {
	case typ == "" && (hasProperties || hasAdditional):
		node["type"] = "object"
		note("no type: object")
	case typ == "" && hasItems:
		node["type"] = "array"
		note("no type: array")
	case typ == "" && !intOrString && !preserve:
		node["x-kubernetes-preserve-unknown-fields"] = true
		note("no type: any value (x-kubernetes-preserve-unknown-fields)")
	case typ == "object" && !hasProperties && !hasAdditional && !preserve:
		node["x-kubernetes-preserve-unknown-fields"] = true
		note("an object without properties: any keys (x-kubernetes-preserve-unknown-fields)")
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for name, child := range props {
			childNode, ok := child.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: is not a schema", displayPath(path+".properties."+name))
			}
			if err := structuralizeNode(childNode, path+"."+name, depth+1, notes); err != nil {
				return err
			}
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if child, ok := node[key].(map[string]any); ok {
			if err := structuralizeNode(child, path+"."+key, depth+1, notes); err != nil {
				return err
			}
		}
	}
	if completeDefault(node) {
		note("default completed with its properties' defaults")
	}
	return nil
}

// completeDefault fills an object's default with the defaults of its properties that it lacks,
// which is what defaulting makes of it at request time (a default is applied, then its properties'
// defaults). The platform's schemas write `default: {}` on objects whose properties are required
// and defaulted; a CRD's default must be valid as written, so a CRD author writes it out. Run
// bottom-up, the properties' own defaults are complete already. It reports whether it changed.
func completeDefault(node map[string]any) bool {
	def, ok := node["default"].(map[string]any)
	props, hasProps := node["properties"].(map[string]any)
	if !ok || !hasProps {
		return false
	}
	changed := false
	for name, p := range props {
		child, _ := p.(map[string]any)
		childDefault, has := child["default"]
		if _, set := def[name]; !has || set {
			continue
		}
		def[name] = runtime.DeepCopyJSONValue(childDefault)
		changed = true
	}
	return changed
}

func displayPath(path string) string {
	if path == "" {
		return "spec"
	}
	return "spec" + path
}

// deeperThan reports whether a JSON value nests more than limit objects and arrays deep (in
// defaults, anyOf, anything), without recursing further than that.
func deeperThan(v any, limit int) bool {
	if limit < 0 {
		return true
	}
	switch v := v.(type) {
	case map[string]any:
		for _, child := range v {
			if deeperThan(child, limit-1) {
				return true
			}
		}
	case []any:
		for _, child := range v {
			if deeperThan(child, limit-1) {
				return true
			}
		}
	}
	return false
}
