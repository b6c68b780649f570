package appobjects

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var app = Application{Name: "db", Kind: "Postgres", Namespace: "tenant-a", Release: "postgres-db"}

func secret(namespace, name string, labels, annotations map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels, Annotations: annotations}}
}

// The platform's Postgres selection: its credentials by name, and the tenant's CA by label.
func postgresSecrets() *ResourceSelection {
	return &ResourceSelection{
		Include: []ResourceSelector{
			{ResourceNames: []string{"postgres-{{ .name }}-credentials", "{{.kind}}-{{ .name }}-{{ .namespace }}"}},
			{LabelSelector: metav1.LabelSelector{MatchLabels: map[string]string{"internal.cozystack.io/tenant-ca": "true"}}},
		},
		Exclude: []ResourceSelector{{ResourceNames: []string{"{{ .name }}-excluded"}}},
	}
}

func TestSelectsTheApplicationsOwnObjects(t *testing.T) {
	s, notes := Compile(postgresSecrets())
	if len(notes) != 0 {
		t.Fatalf("notes: %v", notes)
	}
	for _, c := range []struct {
		obj  *corev1.Secret
		want bool
	}{
		{secret("tenant-a", "postgres-db-credentials", nil, nil), true},
		{secret("tenant-a", "postgres-db-credentials", nil, map[string]string{HelmReleaseAnnotation: "postgres-db"}), true},
		{secret("tenant-a", "postgres-db-tenant-a", nil, nil), true},
		{secret("tenant-a", "tenant-ca", map[string]string{"internal.cozystack.io/tenant-ca": "true"}, nil), true},
		// Another application's: another name, another namespace, another release's.
		{secret("tenant-a", "postgres-other-credentials", nil, nil), false},
		{secret("tenant-b", "postgres-db-credentials", nil, nil), false},
		{secret("tenant-b", "tenant-ca", map[string]string{"internal.cozystack.io/tenant-ca": "true"}, nil), false},
		{secret("tenant-a", "postgres-db-credentials", nil, map[string]string{HelmReleaseAnnotation: "postgres-other"}), false},
		{secret("tenant-a", "db-excluded", map[string]string{"internal.cozystack.io/tenant-ca": "true"}, nil), false},
		{secret("tenant-a", "unrelated", map[string]string{"internal.cozystack.io/tenant-ca": "false"}, nil), false},
	} {
		if got := s.Selects(app, c.obj); got != c.want {
			t.Errorf("%s/%s (labels %v, annotations %v): selected %v, want %v", c.obj.Namespace, c.obj.Name, c.obj.Labels, c.obj.Annotations, got, c.want)
		}
	}
	if got, want := s.Names(app), []string{"postgres-db-credentials", "postgres-db-tenant-a"}; !slices.Equal(got, want) {
		t.Errorf("names %v, want %v", got, want)
	}
}

// Hostile or careless definitions never select beyond the application: such selectors are dropped
// with a note saying why.
func TestSelectorsThatCouldEscapeAreDropped(t *testing.T) {
	for _, c := range []struct {
		name     string
		selector ResourceSelector
		why      string
	}{
		{"empty", ResourceSelector{}, "select everything"},
		{"a fixed name", ResourceSelector{ResourceNames: []string{"admin-credentials"}}, "does not contain {{ .name }}"},
		{"the namespace only", ResourceSelector{ResourceNames: []string{"{{ .namespace }}-ca"}}, "does not contain {{ .name }}"},
		{"template code", ResourceSelector{ResourceNames: []string{`{{ .name }}{{ printf "%s" "x" }}`}}, "only {{ .name }}"},
		{"a half placeholder", ResourceSelector{ResourceNames: []string{"{{ .name }}-}}"}}, "only {{ .name }}"},
		{"an invalid label selector", ResourceSelector{LabelSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Bogus"}}}}, "label selector"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, notes := Compile(&ResourceSelection{Include: []ResourceSelector{c.selector}})
			if len(notes) != 1 || !strings.Contains(notes[0], c.why) {
				t.Errorf("notes %v, want one saying %q", notes, c.why)
			}
			if s.Selects(app, secret("tenant-a", "admin-credentials", nil, nil)) || len(s.Names(app)) != 0 {
				t.Error("a dropped selector selects")
			}
		})
	}
	if s, notes := Compile(nil); len(notes) != 0 || s.Selects(app, secret("tenant-a", "x", nil, nil)) {
		t.Errorf("no selection: notes %v", notes)
	}
}

// A rendered name that is not an object name (a long application name) selects nothing.
func TestRenderedNamesMustBeObjectNames(t *testing.T) {
	s, _ := Compile(&ResourceSelection{Include: []ResourceSelector{{ResourceNames: []string{"{{ .name }}-" + strings.Repeat("x", 260)}}}})
	if names := s.Names(app); len(names) != 0 {
		t.Errorf("names %v", names)
	}
}
