package validation

import (
	"encoding/json"
	"fmt"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Model names of apimachinery types that structural schemas spell differently from OpenAPI.
const (
	quantityModel     = "io.k8s.apimachinery.pkg.api.resource.Quantity"
	rawExtensionModel = "io.k8s.apimachinery.pkg.runtime.RawExtension"
)

// specSchema builds a CRD-style schema for {"spec": <the kind's spec>} from the OpenAPI
// definitions generated from the Go types of the kind whose model name is kindModel, with every
// $ref inlined, as structural schemas require. The spec property is taken as the kind declares it
// (its default included). This is the only place the two schema dialects meet; there is no
// hand-written schema.
func specSchema(getDefinitions common.GetOpenAPIDefinitions, kindModel string) (*apiextensionsv1.JSONSchemaProps, error) {
	defs := getDefinitions(func(name string) spec.Ref { return spec.MustCreateRef("#/definitions/" + name) })
	kind, ok := defs[kindModel]
	if !ok {
		return nil, fmt.Errorf("no OpenAPI definition for %s", kindModel)
	}
	specProp, ok := kind.Schema.Properties["spec"]
	if !ok {
		return nil, fmt.Errorf("%s has no spec", kindModel)
	}
	raw, err := json.Marshal(specProp)
	if err != nil {
		return nil, err
	}
	var node map[string]any
	if err := json.Unmarshal(raw, &node); err != nil {
		return nil, err
	}
	resolved, err := resolve(defs, node, map[string]bool{kindModel: true})
	if err != nil {
		return nil, err
	}
	return crdSchema(kindModel, map[string]any{
		"type":       "object",
		"properties": map[string]any{"spec": resolved},
	})
}

// ModelSchema is the CRD-style schema of the Go type whose OpenAPI model name is model, with every
// $ref inlined: how a part the typed kinds share (their status) is described to a defined kind.
func ModelSchema(getDefinitions common.GetOpenAPIDefinitions, model string) (*apiextensionsv1.JSONSchemaProps, error) {
	defs := getDefinitions(func(name string) spec.Ref { return spec.MustCreateRef("#/definitions/" + name) })
	resolved, err := inline(defs, model, map[string]bool{})
	if err != nil {
		return nil, err
	}
	return crdSchema(model, resolved)
}

// crdSchema reads a resolved OpenAPI schema (JSON-shaped data) as a CRD schema.
func crdSchema(model string, resolved map[string]any) (*apiextensionsv1.JSONSchemaProps, error) {
	raw, err := json.Marshal(resolved)
	if err != nil {
		return nil, err
	}
	var props apiextensionsv1.JSONSchemaProps
	if err := json.Unmarshal(raw, &props); err != nil {
		return nil, fmt.Errorf("converting the OpenAPI of %s to a CRD schema: %w", model, err)
	}
	return &props, nil
}

// inline returns the definition of model as JSON-shaped data with references replaced by what
// they point at.
func inline(defs map[string]common.OpenAPIDefinition, model string, visiting map[string]bool) (map[string]any, error) {
	switch model {
	case quantityModel:
		return map[string]any{"x-kubernetes-int-or-string": true, "anyOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}},
			"pattern": `^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`}, nil
	case rawExtensionModel:
		return map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}, nil
	}
	if visiting[model] {
		return nil, fmt.Errorf("recursive type %s cannot become a structural schema", model)
	}
	def, ok := defs[model]
	if !ok {
		return nil, fmt.Errorf("no OpenAPI definition for %s", model)
	}
	raw, err := json.Marshal(def.Schema)
	if err != nil {
		return nil, err
	}
	var node map[string]any
	if err := json.Unmarshal(raw, &node); err != nil {
		return nil, err
	}
	visiting[model] = true
	defer delete(visiting, model)
	return resolve(defs, node, visiting)
}

func resolve(defs map[string]common.OpenAPIDefinition, node map[string]any, visiting map[string]bool) (map[string]any, error) {
	if ref, ok := node["$ref"].(string); ok {
		target, err := inline(defs, strings.TrimPrefix(ref, "#/definitions/"), visiting)
		if err != nil {
			return nil, err
		}
		return mergeSiblings(target, node), nil
	}
	// openapi-gen wraps a reference that has a default or description in a one-element allOf.
	if allOf, ok := node["allOf"].([]any); ok && len(allOf) == 1 {
		if inner, ok := allOf[0].(map[string]any); ok {
			delete(node, "allOf")
			target, err := resolve(defs, inner, visiting)
			if err != nil {
				return nil, err
			}
			return mergeSiblings(target, node), nil
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for name, p := range props {
			child, ok := p.(map[string]any)
			if !ok {
				continue
			}
			resolvedChild, err := resolve(defs, child, visiting)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			props[name] = resolvedChild
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if child, ok := node[key].(map[string]any); ok {
			resolvedChild, err := resolve(defs, child, visiting)
			if err != nil {
				return nil, err
			}
			node[key] = resolvedChild
		}
	}
	return node, nil
}

// mergeSiblings lays the keys written next to a reference (default, description, validations)
// over the referenced schema.
func mergeSiblings(target, siblings map[string]any) map[string]any {
	out := make(map[string]any, len(target)+len(siblings))
	for k, v := range target {
		out[k] = v
	}
	for k, v := range siblings {
		if k == "$ref" {
			continue
		}
		if k == "x-kubernetes-validations" {
			existing, _ := out[k].([]any)
			more, _ := v.([]any)
			out[k] = append(append([]any{}, existing...), more...)
			continue
		}
		out[k] = v
	}
	return out
}
