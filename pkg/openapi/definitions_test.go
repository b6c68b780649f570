package openapi

import (
	"testing"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Every boolean extension openapi-gen wrote as the string "true" is a boolean, at every depth.
func TestBooleanExtensionsAreBooleans(t *testing.T) {
	defs := Definitions(func(name string) spec.Ref { return spec.MustCreateRef("#/definitions/" + name) })
	if len(defs) == 0 {
		t.Fatal("no definitions")
	}
	found := 0
	var walk func(name string, s spec.Schema)
	walk = func(name string, s spec.Schema) {
		for _, ext := range booleanExtensions {
			if v, ok := s.Extensions[ext]; ok {
				found++
				if _, isBool := v.(bool); !isBool {
					t.Errorf("%s: %s is %T %v", name, ext, v, v)
				}
			}
		}
		for prop, p := range s.Properties {
			walk(name+"."+prop, p)
		}
		if s.Items != nil && s.Items.Schema != nil {
			walk(name+"[]", *s.Items.Schema)
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			walk(name+"{}", *s.AdditionalProperties.Schema)
		}
	}
	for name, d := range defs {
		walk(name, d.Schema)
	}
	if found == 0 {
		t.Error("no boolean extension found: the kinds' free-form values carry x-kubernetes-preserve-unknown-fields")
	}
}
