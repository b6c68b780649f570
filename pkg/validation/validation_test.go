package validation

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cozystack/apps-apiserver/pkg/openapi"
)

func mustSchema(t *testing.T, model string) *Schema {
	t.Helper()
	s, err := New(openapi.Definitions, "io.cozy.apps.v1alpha1."+model)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func errorsContain(errs field.ErrorList, parts ...string) bool {
	for _, e := range errs {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(e.Error(), p)
		}
		if ok {
			return true
		}
	}
	return false
}

func TestEveryKindHasAStructuralSchema(t *testing.T) {
	for _, model := range []string{"Kubernetes", "VirtualMachine", "VMDisk", "Bucket"} {
		mustSchema(t, model)
	}
}

func TestDefaults(t *testing.T) {
	s := mustSchema(t, "Kubernetes")
	obj := map[string]any{"spec": map[string]any{"nodeGroups": map[string]any{"md0": map[string]any{}}}}
	s.Default(obj)
	spec := obj["spec"].(map[string]any)
	if spec["version"] != "v1.35" || spec["storageClass"] != "replicated" {
		t.Errorf("top-level defaults: %v", spec)
	}
	md0 := spec["nodeGroups"].(map[string]any)["md0"].(map[string]any)
	if md0["maxReplicas"] != int64(10) || md0["instanceType"] != "u1.medium" || md0["diskSize"] != "20Gi" {
		t.Errorf("node group defaults: %v", md0)
	}
}

func TestValidateCreate(t *testing.T) {
	ctx := context.Background()
	k := mustSchema(t, "Kubernetes")
	bad := map[string]any{"spec": map[string]any{
		"version":      "v1.99",
		"controlPlane": map[string]any{"replicas": int64(9)},
		"nodeGroups":   map[string]any{"md0": map[string]any{"minReplicas": int64(5), "maxReplicas": int64(2)}},
	}}
	errs := k.Validate(ctx, bad, nil)
	for _, want := range [][]string{
		{"spec.version", "Unsupported value"},
		{"spec.controlPlane.replicas", "less than or equal to 7"},
	} {
		if !errorsContain(errs, want...) {
			t.Errorf("missing error %v in %v", want, errs)
		}
	}
	// CEL is skipped while blocking errors exist; alone, the rule reports with its field path.
	errs = k.Validate(ctx, map[string]any{"spec": map[string]any{
		"nodeGroups": map[string]any{"md0": map[string]any{"minReplicas": int64(5), "maxReplicas": int64(2)}},
	}}, nil)
	if !errorsContain(errs, "spec.nodeGroups[md0].minReplicas", "minReplicas must be less than or equal to maxReplicas") {
		t.Errorf("CEL rule: %v", errs)
	}

	disk := mustSchema(t, "VMDisk")
	errs = disk.Validate(ctx, map[string]any{"spec": map[string]any{"source": map[string]any{"image": map[string]any{"name": "ubuntu"}, "http": map[string]any{"url": "https://x"}}}}, nil)
	if !errorsContain(errs, "at most one of disk, http, image and upload") {
		t.Errorf("disk with two sources: %v", errs)
	}
	if errs := disk.Validate(ctx, map[string]any{"spec": map[string]any{"source": map[string]any{"upload": map[string]any{}}}}, nil); len(errs) != 0 {
		t.Errorf("valid disk refused: %v", errs)
	}
	vm := mustSchema(t, "VirtualMachine")
	if errs := vm.Validate(ctx, map[string]any{"spec": map[string]any{"externalPorts": []any{int64(0)}}}, nil); !errorsContain(errs, "ports must be between 1 and 65535") {
		t.Errorf("port 0 passed: %v", errs)
	}
}

func TestRatcheting(t *testing.T) {
	ctx := context.Background()
	k := mustSchema(t, "Kubernetes")
	old := map[string]any{"spec": map[string]any{
		"version":      "v1.35",
		"controlPlane": map[string]any{"replicas": int64(9)},
		"nodeGroups":   map[string]any{"md0": map[string]any{"minReplicas": int64(5), "maxReplicas": int64(2)}},
	}}
	with := func(mutate func(spec map[string]any)) map[string]any {
		spec := map[string]any{
			"version":      "v1.35",
			"controlPlane": map[string]any{"replicas": int64(9)},
			"nodeGroups":   map[string]any{"md0": map[string]any{"minReplicas": int64(5), "maxReplicas": int64(2)}},
		}
		mutate(spec)
		return map[string]any{"spec": spec}
	}
	if errs := k.ValidateUpdate(ctx, with(func(s map[string]any) { s["storageClass"] = "fast" }), old, nil); len(errs) != 0 {
		t.Errorf("changing an unrelated field was refused: %v", errs)
	}
	if errs := k.ValidateUpdate(ctx, with(func(s map[string]any) { s["controlPlane"] = map[string]any{"replicas": int64(8)} }), old, nil); !errorsContain(errs, "spec.controlPlane.replicas") {
		t.Errorf("changing an invalid field to another invalid value passed: %v", errs)
	}
	if errs := k.ValidateUpdate(ctx, with(func(s map[string]any) { s["controlPlane"] = map[string]any{"replicas": int64(3)} }), old, nil); len(errs) != 0 {
		t.Errorf("fixing an invalid field was refused: %v", errs)
	}
	if errs := k.ValidateUpdate(ctx, with(func(s map[string]any) {
		s["nodeGroups"] = map[string]any{"md0": map[string]any{"minReplicas": int64(4), "maxReplicas": int64(2)}}
	}), old, nil); !errorsContain(errs, "minReplicas must be less than or equal to maxReplicas") {
		t.Errorf("changing a CEL-invalid node group to another invalid value passed: %v", errs)
	}
	if errs := k.ValidateUpdate(ctx, with(func(s map[string]any) { s["version"] = "v1.34" }), old, nil); !errorsContain(errs, "version may not be downgraded") {
		t.Errorf("downgrade passed: %v", errs)
	}

	b := mustSchema(t, "Bucket")
	if errs := b.ValidateUpdate(ctx, map[string]any{"spec": map[string]any{"storagePool": "b"}}, map[string]any{"spec": map[string]any{"storagePool": "a"}}, nil); !errorsContain(errs, "storagePool is immutable") {
		t.Errorf("storagePool change passed: %v", errs)
	}
	if errs := b.Validate(ctx, map[string]any{"spec": map[string]any{"storagePool": "b"}}, nil); len(errs) != 0 {
		t.Errorf("a transition rule applied on create: %v", errs)
	}
}
