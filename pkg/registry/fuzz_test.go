package registry

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/json"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/openapi"
	"github.com/cozystack/apps-apiserver/pkg/validation"
)

// FuzzValidateAndMap feeds arbitrary JSON through what a create does to a body: lenient decoding
// into the kind's Go type (as with fieldValidation Warn or Ignore), defaulting, validation and
// mapping onto a HelmRelease. It must never panic, and the HelmRelease values must never hold a
// field the schema does not declare: a tenant cannot inject chart values.
func FuzzValidateAndMap(f *testing.F) {
	all := kinds.All()
	schemas := make([]*validation.Schema, len(all))
	for i, k := range all {
		model, err := ModelName(k.New())
		if err != nil {
			f.Fatal(err)
		}
		if schemas[i], err = validation.New(openapi.Definitions, model); err != nil {
			f.Fatal(err)
		}
	}
	for _, seed := range []struct {
		kind uint8
		body string
	}{
		{0, `{"spec":{"version":"v1.35","nodeGroups":{"md0":{"minReplicas":1,"maxReplicas":3,"gpus":[{"name":"nvidia.com/x"}]}},"addons":{"ingressNginx":{"enabled":true,"valuesOverride":{"free":{"form":1}}}}}}`},
		{0, `{"spec":{"injected":{"image":"evil"},"nodeGroups":{"md0":{"evil":true}},"controlPlane":{"replicas":99,"apiServer":{"extraVolumes":[{"name":"x"}]}}}}`},
		{1, `{"spec":{"instanceType":"u1.small","disks":[{"name":"a","bus":"sata","hidden":"x"}],"externalPorts":[22],"external":true}}`},
		{1, `{"spec":{"resources":{"cpu":"2","memory":"4Gi","sockets":2},"cloudInit":"#cloud-config","externalPorts":[]}}`},
		{2, `{"spec":{"source":{"http":{"url":"https://example.org/a.img","extra":1}},"storage":"10Gi"}}`},
		{3, `{"spec":{"storagePool":"default","locking":true,"users":{"alice":{"readonly":true,"admin":true}}}}`},
		{3, `{"spec":{"users":null}}`},
	} {
		f.Add(seed.kind, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, kindIndex uint8, body []byte) {
		i := int(kindIndex) % len(all)
		kind, schema := all[i], schemas[i]
		obj := kind.New()
		if err := json.UnmarshalCaseSensitivePreserveInts(body, obj); err != nil {
			return
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			t.Fatal(err)
		}
		m.SetName("fuzz")
		m.SetNamespace("tenant")
		m.SetLabels(nil)
		m.SetAnnotations(nil)
		m.SetFinalizers(nil)
		st := newStrategy(nil, kind, schema)
		ctx := context.Background()
		st.PrepareForCreate(ctx, obj)
		_ = st.Validate(ctx, obj)

		hr := kind.NewRelease("tenant", "fuzz")
		if err := kind.ApplyTo(obj, hr); err != nil {
			return
		}
		values, _, _ := unstructured.NestedMap(hr.Object, "spec", "values")
		if unknown := schema.UnknownFields(map[string]any{"spec": values}); len(unknown) > 0 {
			t.Fatalf("undeclared fields reached the HelmRelease values: %v", unknown)
		}
		if _, err := kind.ToObject(appsv1alpha1.SchemeGroupVersion, hr); err != nil {
			t.Fatalf("the stored HelmRelease does not convert back: %v", err)
		}
	})
}
