package tenanttree

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestChildNamespace(t *testing.T) {
	for _, tc := range []struct{ parent, name, want string }{
		{"tenant-root", "foo", "tenant-foo"},
		{"tenant-root", "root", "tenant-root"},
		{"tenant-foo", "bar", "tenant-foo-bar"},
		{"team", "a", "team-a"},
	} {
		if got := ChildNamespace(tc.parent, tc.name); got != tc.want {
			t.Errorf("ChildNamespace(%q, %q) = %q, want %q", tc.parent, tc.name, got, tc.want)
		}
	}
}

func TestValidateName(t *testing.T) {
	path := field.NewPath("metadata", "name")
	for _, tc := range []struct {
		parent, name, wantDetail string
	}{
		{"tenant-root", "foo", ""},
		{"tenant-foo", "bar", ""},
		{"tenant-root", "", ""},
		{"tenant-root", "a-b", "may not contain '-'"},
		{"tenant-root", "a.b", "not be a valid namespace name"},
		{"tenant-root", "Foo", "not be a valid namespace name"},
		{"tenant-" + strings.Repeat("a", 50), strings.Repeat("b", 12), "not be a valid namespace name"},
	} {
		errs := ValidateName(path, tc.parent, tc.name)
		if tc.wantDetail == "" {
			if len(errs) != 0 {
				t.Errorf("%s in %s: %v", tc.name, tc.parent, errs)
			}
			continue
		}
		if len(errs) == 0 || !strings.Contains(errs[0].Detail, tc.wantDetail) || errs[0].Field != "metadata.name" {
			t.Errorf("%s in %s: %v, want an error at metadata.name saying %q", tc.name, tc.parent, errs, tc.wantDetail)
		}
	}
}

// Names without '-' never collide: no two (parent, name) pairs in different trees compute the
// same namespace, whatever the depth.
func TestChildNamespacesStayInTheirTree(t *testing.T) {
	seen := map[string]string{}
	var walk func(ns string, depth int)
	walk = func(ns string, depth int) {
		if depth == 3 {
			return
		}
		for _, name := range []string{"a", "b", "ab", "root"} {
			child := ChildNamespace(ns, name)
			if child == ns {
				continue
			}
			if other, ok := seen[child]; ok {
				t.Fatalf("%s is made by both %s and %s/%s", child, other, ns, name)
			}
			seen[child] = ns + "/" + name
			walk(child, depth+1)
		}
	}
	walk(RootNamespace, 0)
	walk("team", 0)
}
