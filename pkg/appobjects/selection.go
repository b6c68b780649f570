// Package appobjects decides which Secrets, Services and Ingresses belong to one application: the
// objects its ApplicationDefinition selects (`spec.secrets`, `spec.services`, `spec.ingresses`:
// include minus exclude, each selector a label selector and names templated with the object's
// name, kind and namespace), in the application's namespace only, and never an object another
// release owns. It is the rule a tenant's view of an application's own objects is served by; it
// reads nothing itself.
//
// Written by hand: the platform's selectors are its own format, and the templates are expanded by
// plain substitution of three placeholders, never by a template engine a definition could program.
package appobjects

import (
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// HelmReleaseAnnotation is set by Helm on every object a release installed: its release's name.
// An object that names another release belongs to that release's application.
const HelmReleaseAnnotation = "meta.helm.sh/release-name"

// ResourceSelection lists selectors of objects that belong to an application: include minus
// exclude (an ApplicationDefinition's spec.secrets, spec.services, spec.ingresses).
type ResourceSelection struct {
	Include []ResourceSelector `json:"include,omitempty"`
	Exclude []ResourceSelector `json:"exclude,omitempty"`
}

// ResourceSelector is a label selector plus names templated with the object's name, kind and
// namespace (e.g. "postgres-{{ .name }}-credentials").
type ResourceSelector struct {
	metav1.LabelSelector `json:",inline"`
	ResourceNames        []string `json:"resourceNames,omitempty"`
}

// Application is the object whose own objects are selected.
type Application struct {
	// Name, Kind and Namespace fill the name templates; Kind is the application kind (the
	// release label's value, e.g. VMInstance), written in lower case.
	Name, Kind, Namespace string
	// Release is the name of the application's HelmRelease (and Helm release).
	Release string
}

// Selection is a compiled ResourceSelection: include minus exclude.
type Selection struct {
	include, exclude []selector
}

// selector is one compiled ResourceSelector: an object matches when its labels match (if the
// selector has any) and its name is one of the rendered names (if it has any).
type selector struct {
	labels labels.Selector
	names  []string
}

// placeholder is the only template syntax: {{ .name }}, {{ .kind }} or {{ .namespace }}.
var placeholder = regexp.MustCompile(`\{\{\s*\.(name|kind|namespace)\s*\}\}`)

// Compile checks and compiles a selection. A selector that could select beyond the application is
// dropped and said in a note: one with neither labels nor names (it would select everything), a
// name template with other syntax than the three placeholders, or without {{ .name }} (a fixed
// name is the same object for every application of the kind). A nil selection selects nothing.
func Compile(sel *ResourceSelection) (*Selection, []string) {
	out := &Selection{}
	if sel == nil {
		return out, nil
	}
	var notes []string
	compile := func(list []ResourceSelector, what string) []selector {
		var compiled []selector
		for i, s := range list {
			c, err := compileSelector(s)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s[%d] ignored: %v", what, i, err))
				continue
			}
			compiled = append(compiled, c)
		}
		return compiled
	}
	out.include = compile(sel.Include, "include")
	out.exclude = compile(sel.Exclude, "exclude")
	return out, notes
}

func compileSelector(s ResourceSelector) (selector, error) {
	var c selector
	if len(s.MatchLabels) > 0 || len(s.MatchExpressions) > 0 {
		ls, err := metav1.LabelSelectorAsSelector(&s.LabelSelector)
		if err != nil {
			return c, fmt.Errorf("label selector: %w", err)
		}
		c.labels = ls
	}
	for _, name := range s.ResourceNames {
		rest := placeholder.ReplaceAllString(name, "")
		if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
			return c, fmt.Errorf("resource name %q: only {{ .name }}, {{ .kind }} and {{ .namespace }} may be used", name)
		}
		if !containsName(name) {
			return c, fmt.Errorf("resource name %q does not contain {{ .name }}: it would be the same object for every application", name)
		}
		c.names = append(c.names, name)
	}
	if c.labels == nil && len(c.names) == 0 {
		return c, fmt.Errorf("a selector with neither labels nor resource names would select everything")
	}
	return c, nil
}

func containsName(template string) bool {
	for _, m := range placeholder.FindAllStringSubmatch(template, -1) {
		if m[1] == "name" {
			return true
		}
	}
	return false
}

// render expands a name template for the application; ok is false when the result is not a
// valid object name.
func render(template string, app Application) (string, bool) {
	name := placeholder.ReplaceAllStringFunc(template, func(m string) string {
		switch placeholder.FindStringSubmatch(m)[1] {
		case "name":
			return app.Name
		case "kind":
			return strings.ToLower(app.Kind)
		default:
			return app.Namespace
		}
	})
	return name, len(validation.IsDNS1123Subdomain(name)) == 0
}

// Names are the names the include selectors render for the application, for reading those
// objects by name; objects selected by labels alone are listed (Read).
func (s *Selection) Names(app Application) []string {
	var out []string
	for _, sel := range s.include {
		for _, t := range sel.names {
			if name, ok := render(t, app); ok {
				out = append(out, name)
			}
		}
	}
	return out
}

// Selects reports whether obj belongs to the application: in its namespace, selected by an include
// selector and by no exclude selector, and not installed by another Helm release.
func (s *Selection) Selects(app Application, obj metav1.Object) bool {
	if obj.GetNamespace() != app.Namespace {
		return false
	}
	if owner, ok := obj.GetAnnotations()[HelmReleaseAnnotation]; ok && owner != app.Release {
		return false
	}
	return s.any(s.include, app, obj) && !s.any(s.exclude, app, obj)
}

func (s *Selection) any(list []selector, app Application, obj metav1.Object) bool {
	for _, sel := range list {
		if sel.matches(app, obj) {
			return true
		}
	}
	return false
}

func (sel selector) matches(app Application, obj metav1.Object) bool {
	if sel.labels != nil && !sel.labels.Matches(labels.Set(obj.GetLabels())) {
		return false
	}
	if len(sel.names) == 0 {
		return true
	}
	for _, t := range sel.names {
		if name, ok := render(t, app); ok && name == obj.GetName() {
			return true
		}
	}
	return false
}
