package catalog

import (
	"fmt"
	"strings"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// reservedNames are the names the typed kinds hold: no definition may serve a kind, resource,
// singular or short name kubectl would resolve to a typed kind.
type reservedNames struct {
	byName            map[string]string
	byApplicationKind map[string]*release.Kind
	typed             []*release.Kind
}

func newReservedNames(typed []*release.Kind) *reservedNames {
	r := &reservedNames{byName: map[string]string{}, byApplicationKind: map[string]*release.Kind{}, typed: typed}
	for _, k := range typed {
		owner := fmt.Sprintf("the typed kind %s", k.Kind)
		for _, n := range append([]string{k.Kind, k.Resource, k.Singular}, k.ShortNames...) {
			r.byName[strings.ToLower(n)] = owner
		}
		r.byApplicationKind[k.ApplicationKind] = k
	}
	return r
}

// typedApplicationKind is the typed kind whose releases carry the application kind, or nil.
func (r *reservedNames) typedApplicationKind(applicationKind string) *release.Kind {
	return r.byApplicationKind[applicationKind]
}

// claims starts a settlement with the typed kinds' names taken, and their release prefixes as
// their definitions settled them (layoutOf).
func (r *reservedNames) claims(layoutOf func(*release.Kind) *release.Layout) *claimSet {
	s := &claimSet{names: map[string]string{}, prefixes: map[string]string{}}
	for n, owner := range r.byName {
		s.names[n] = owner
	}
	for _, k := range r.typed {
		if prefix := layoutOf(k).ReleasePrefix; prefix != "" {
			s.prefixes[prefix] = fmt.Sprintf("the typed kind %s", k.Kind)
		}
	}
	return s
}

// claimSet holds the names and release prefixes taken so far in one settlement.
type claimSet struct {
	names, prefixes map[string]string
}

// conflict says which name of d is taken, and by whom, or "" when all are free. Names compare
// case-insensitively, as kubectl resolves them. Releases of kinds with an empty prefix share one
// name space, which the application-kind label divides; a non-empty prefix is one kind's alone.
func (s *claimSet) conflict(d *kinds.Defined) string {
	k := d.Kind
	for _, n := range []string{k.Kind, k.Resource, k.Singular} {
		if owner, taken := s.names[strings.ToLower(n)]; taken {
			return fmt.Sprintf("the name %q is already served by %s", n, owner)
		}
	}
	if owner, taken := s.prefixes[k.Layout.ReleasePrefix]; taken && k.Layout.ReleasePrefix != "" {
		return fmt.Sprintf("the release prefix %q is already used by %s", k.Layout.ReleasePrefix, owner)
	}
	return ""
}

// claim takes d's names and prefix.
func (s *claimSet) claim(d *kinds.Defined) {
	owner := fmt.Sprintf("the ApplicationDefinition %s", d.Definition)
	for _, n := range []string{d.Kind.Kind, d.Kind.Resource, d.Kind.Singular} {
		s.names[strings.ToLower(n)] = owner
	}
	if d.Kind.Layout.ReleasePrefix != "" {
		s.prefixes[d.Kind.Layout.ReleasePrefix] = owner
	}
}
