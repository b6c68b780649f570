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
		if err := k.Layout.Chart.Validate(); err != nil || k.Layout.Chart.Interval.Duration <= 0 || k.Layout.ReleasePrefix == "" || k.ApplicationKind == "" {
			t.Errorf("%s has incomplete defaults (%v): %+v", k.Kind, err, k.Layout.Chart)
		}
		if seen[k.Layout.ReleasePrefix] || seen[k.ApplicationKind] {
			t.Errorf("release prefix %q or application kind %q is used twice", k.Layout.ReleasePrefix, k.ApplicationKind)
		}
		seen[k.Layout.ReleasePrefix], seen[k.ApplicationKind] = true, true
	}
	// cozystack-api's names, so its releases are served as they are.
	for kind, want := range map[string]string{"Kubernetes": "kubernetes-/Kubernetes", "VirtualMachine": "vm-instance-/VMInstance", "VMDisk": "vm-disk-/VMDisk", "Bucket": "bucket-/Bucket"} {
		if k := ByName(kind); k.Layout.ReleasePrefix+"/"+k.ApplicationKind != want {
			t.Errorf("%s: %s/%s, want %s", kind, k.Layout.ReleasePrefix, k.ApplicationKind, want)
		}
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
    releasePrefix: s3-
    applicationKind: S3Bucket
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		switch k.Kind {
		case "Bucket":
			if k.Layout.Chart.Name != "s3-bucket" || k.Layout.Chart.SourceRef.Name != "internal" || k.Layout.Chart.Timeout.Duration != 2*time.Minute {
				t.Errorf("override not applied: %+v", k.Layout.Chart)
			}
			if k.Layout.Chart.Interval.Duration != 5*time.Minute {
				t.Errorf("missing interval should keep the default, got %v", k.Layout.Chart.Interval)
			}
			if k.Layout.ReleasePrefix != "s3-" || k.ApplicationKind != "S3Bucket" || k.Layout.Chart.ChartRef != nil {
				t.Errorf("layout override not applied: %s %s %+v", k.Layout.ReleasePrefix, k.ApplicationKind, k.Layout.Chart.ChartRef)
			}
		case "Kubernetes":
			if k.Layout.Chart.ChartRef == nil || k.Layout.Chart.ChartRef.Name != "cozystack-kubernetes-application-kubevirt-kubernetes" {
				t.Errorf("kinds not in the file must keep their defaults: %+v", k.Layout.Chart)
			}
		}
	}
}

func TestLoadRejectsMistakes(t *testing.T) {
	for name, content := range map[string]string{
		"unknown kind":  "kinds:\n  Database:\n    name: db\n    sourceRef: {kind: HelmRepository, name: r}\n",
		"no sourceRef":  "kinds:\n  Bucket:\n    name: bucket\n",
		"unknown field": "kinds:\n  Bucket:\n    name: bucket\n    sourceRef: {kind: HelmRepository, name: r}\n    colour: red\n",
		"both sources":  "kinds:\n  Bucket:\n    name: bucket\n    sourceRef: {kind: HelmRepository, name: r}\n    chartRef: {kind: ExternalArtifact, name: a}\n",
		"shared prefix": "kinds:\n  Bucket:\n    chartRef: {kind: ExternalArtifact, name: a}\n    releasePrefix: vm-disk-\n",
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
		if gvk.Group != appsv1alpha1.GroupName || strings.HasSuffix(gvk.Kind, "List") || strings.HasSuffix(gvk.Kind, "Options") || gvk.Kind == "WatchEvent" ||
			gvk.Kind == "BucketCredentials" { // a subresource's response, not a kind
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

// TestShippedConfigLoads keeps the kinds config in artifacts/deploy valid.
func TestShippedConfigLoads(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "artifacts", "deploy", "20-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, body, found := strings.Cut(string(raw), "kinds.yaml: |\n")
	if !found {
		t.Fatal("20-config.yaml has no kinds.yaml")
	}
	var lines []string
	for _, line := range strings.Split(body, "\n") {
		lines = append(lines, strings.TrimPrefix(line, "    "))
	}
	all, err := Load(writeConfig(t, strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if k := all[0]; k.Kind != "Kubernetes" || k.Layout.Chart.Timeout.Duration != 15*time.Minute || k.Layout.Chart.ChartRef == nil {
		t.Errorf("Kubernetes from the shipped config: %+v", k.Layout.Chart)
	}
}
