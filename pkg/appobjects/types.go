package appobjects

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Type is one type of object an application may own, served as a subresource of every kind.
type Type struct {
	// Subresource is its path under the kind's resource.
	Subresource string
	// Resource is where the objects are read.
	Resource schema.GroupVersionResource
	// ListKind is the kind of the list the subresource answers.
	ListKind string
	// Credentials says the objects carry credentials: for the edit and admin roles only (view
	// names the subresources it may read), and never cached.
	Credentials bool
}

// Types are the three an ApplicationDefinition selects: spec.secrets, spec.services and
// spec.ingresses.
var Types = []Type{
	{Subresource: "secrets", Resource: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, ListKind: "SecretList", Credentials: true},
	{Subresource: "services", Resource: schema.GroupVersionResource{Version: "v1", Resource: "services"}, ListKind: "ServiceList"},
	{Subresource: "ingresses", Resource: schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, ListKind: "IngressList"},
}

// TypeOf is the type served at the subresource, if any.
func TypeOf(subresource string) (Type, bool) {
	for _, t := range Types {
		if t.Subresource == subresource {
			return t, true
		}
	}
	return Type{}, false
}

// Selections are one kind's compiled selections by subresource; a missing one selects nothing.
type Selections map[string]*Selection

// CompileAll compiles a definition's three selections; each note names its field.
func CompileAll(secrets, services, ingresses *ResourceSelection) (Selections, []string) {
	out := Selections{}
	var notes []string
	for sub, sel := range map[string]*ResourceSelection{"secrets": secrets, "services": services, "ingresses": ingresses} {
		compiled, n := Compile(sel)
		out[sub] = compiled
		for _, note := range n {
			notes = append(notes, sub+"."+note)
		}
	}
	return out, notes
}
