package kinds

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kinds.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDefaults(t *testing.T) {
	all, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, k := range all {
		if k.Chart.Name == "" || k.Chart.SourceRef.Name == "" || k.Chart.Interval.Duration <= 0 || k.ReleasePrefix == "" {
			t.Errorf("%s has incomplete defaults: %+v", k.Kind, k.Chart)
		}
		if seen[k.ReleasePrefix] {
			t.Errorf("release prefix %q is used twice", k.ReleasePrefix)
		}
		seen[k.ReleasePrefix] = true
	}
}

func TestLoadOverrides(t *testing.T) {
	all, err := Load(writeConfig(t, `
kinds:
  Bucket:
    name: s3-bucket
    version: "1.x"
    sourceRef: {kind: HelmRepository, name: internal, namespace: flux-system}
    timeout: 2m
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		switch k.Kind {
		case "Bucket":
			if k.Chart.Name != "s3-bucket" || k.Chart.SourceRef.Name != "internal" || k.Chart.Timeout.Duration != 2*time.Minute {
				t.Errorf("override not applied: %+v", k.Chart)
			}
			if k.Chart.Interval.Duration != 5*time.Minute {
				t.Errorf("missing interval should keep the default, got %v", k.Chart.Interval)
			}
		case "Kubernetes":
			if k.Chart.Name != "kubernetes" {
				t.Errorf("kinds not in the file must keep their defaults: %+v", k.Chart)
			}
		}
	}
}

func TestLoadRejectsMistakes(t *testing.T) {
	for name, content := range map[string]string{
		"unknown kind":  "kinds:\n  Database:\n    name: db\n    sourceRef: {kind: HelmRepository, name: r}\n",
		"no sourceRef":  "kinds:\n  Bucket:\n    name: bucket\n",
		"unknown field": "kinds:\n  Bucket:\n    name: bucket\n    sourceRef: {kind: HelmRepository, name: r}\n    colour: red\n",
	} {
		if _, err := Load(writeConfig(t, content)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "kinds") {
			t.Errorf("%s: error does not say where: %v", name, err)
		}
	}
}

// TestEveryAPIKindIsServed keeps the API group's registered types and the served kinds one list:
// a type registered in apis/ without a mapping here would be in the scheme but never served.
func TestEveryAPIKindIsServed(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := appsv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for gvk := range scheme.AllKnownTypes() {
		if gvk.Group != appsv1alpha1.GroupName || strings.HasSuffix(gvk.Kind, "List") || strings.HasSuffix(gvk.Kind, "Options") || gvk.Kind == "WatchEvent" {
			continue
		}
		k := ByName(gvk.Kind)
		if k == nil {
			t.Errorf("kind %s is registered in apis/ but not listed in kinds.All", gvk.Kind)
			continue
		}
		if got := reflect.TypeOf(k.New()).Elem().Name(); got != gvk.Kind {
			t.Errorf("kind %s: New returns a %s", gvk.Kind, got)
		}
	}
}
