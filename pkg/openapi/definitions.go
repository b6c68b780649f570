// Package openapi gives the server the OpenAPI definitions generated from the Go types, in the
// form both the served OpenAPI and the validators need.
package openapi

import (
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"

	generated "github.com/cozystack/apps-apiserver/generated/openapi"
)

// booleanExtensions are the OpenAPI extensions whose value is a boolean. openapi-gen writes the
// comment tag `+k8s:openapi-gen=x-kubernetes-preserve-unknown-fields:true` as the string "true",
// which clients and kube-apiserver's CRD validation do not read as true.
var booleanExtensions = []string{"x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource"}

// Definitions returns the generated definitions with boolean extensions typed as booleans. Every
// consumer (served OpenAPI v2 and v3, schema validation) uses it, so the schema clients see is the
// schema the server enforces.
func Definitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	defs := generated.GetOpenAPIDefinitions(ref)
	for name, def := range defs {
		fixExtensions(&def.Schema)
		defs[name] = def
	}
	return defs
}

func fixExtensions(s *spec.Schema) {
	if s == nil {
		return
	}
	for _, key := range booleanExtensions {
		if v, ok := s.Extensions[key].(string); ok {
			s.Extensions[key] = v == "true"
		}
	}
	for name, p := range s.Properties {
		fixExtensions(&p)
		s.Properties[name] = p
	}
	if s.Items != nil {
		fixExtensions(s.Items.Schema)
		for i := range s.Items.Schemas {
			fixExtensions(&s.Items.Schemas[i])
		}
	}
	if s.AdditionalProperties != nil {
		fixExtensions(s.AdditionalProperties.Schema)
	}
	for _, list := range [][]spec.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for i := range list {
			fixExtensions(&list[i])
		}
	}
}
