package release_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

var gv = appsv1alpha1.SchemeGroupVersion

func bucket() *appsv1alpha1.Bucket {
	readonly := true
	return &appsv1alpha1.Bucket{
		ObjectMeta: metav1.ObjectMeta{
			Name: "photos", Namespace: "tenant-a",
			Labels:      map[string]string{"team": "a"},
			Annotations: map[string]string{"note": "x"},
			Finalizers:  []string{"example.com/keep"},
			ManagedFields: []metav1.ManagedFieldsEntry{{
				Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "apps.cozy.io/v1alpha1",
				FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:locking":{}}}`)},
			}},
		},
		Spec: &appsv1alpha1.BucketSpec{StoragePool: "fast", Locking: true,
			Users: map[string]appsv1alpha1.BucketUser{"alice": {Readonly: &readonly}}},
	}
}

func TestApplyToWritesOwnedFields(t *testing.T) {
	k := kinds.Bucket()
	hr := k.NewRelease("tenant-a", "photos")
	if err := k.ApplyTo(bucket(), hr); err != nil {
		t.Fatal(err)
	}
	if hr.GetName() != "bucket-photos" || hr.GetNamespace() != "tenant-a" {
		t.Errorf("release %s/%s", hr.GetNamespace(), hr.GetName())
	}
	// The layout cozystack-api writes: user keys prefixed, the application labels, the shard.
	wantLabels := map[string]string{"apps.cozystack.io-team": "a", release.LabelApplicationKind: "Bucket",
		release.LabelApplicationGroup: "apps.cozystack.io", release.LabelApplicationName: "photos", release.ShardingLabel: "tenants"}
	if !reflect.DeepEqual(hr.GetLabels(), wantLabels) {
		t.Errorf("labels = %v, want %v", hr.GetLabels(), wantLabels)
	}
	if _, ok := hr.GetAnnotations()[release.AnnotationManagedFields]; !ok || hr.GetAnnotations()["apps.cozystack.io-note"] != "x" {
		t.Errorf("annotations: %v", hr.GetAnnotations())
	}
	values, _, _ := unstructured.NestedMap(hr.Object, "spec", "values")
	want := map[string]any{"storagePool": "fast", "locking": true, "users": map[string]any{"alice": map[string]any{"readonly": true}}}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("values = %v, want %v", values, want)
	}
	for path, want := range map[string]any{
		"chartRef.kind": "ExternalArtifact", "chartRef.name": "cozystack-bucket-application-default-bucket", "chartRef.namespace": "cozy-system",
		"interval": "5m0s", "maxHistory": int64(5), "install.strategy.name": "RetryOnFailure", "upgrade.strategy.retryInterval": "30s",
	} {
		if got, _, _ := unstructured.NestedFieldNoCopy(hr.Object, append([]string{"spec"}, strings.Split(path, ".")...)...); got != want {
			t.Errorf("spec.%s = %v, want %v", path, got, want)
		}
	}
	if from, _, _ := unstructured.NestedSlice(hr.Object, "spec", "valuesFrom"); len(from) != 1 || from[0].(map[string]any)["name"] != "cozystack-values" {
		t.Errorf("valuesFrom = %v", from)
	}
}

// TestApplyToPreservesForeignFields is the property the incumbent lacked: an update rewrites only
// what the server owns.
func TestApplyToPreservesForeignFields(t *testing.T) {
	k := kinds.Bucket()
	hr := k.NewRelease("tenant-a", "photos")
	if err := k.ApplyTo(bucket(), hr); err != nil {
		t.Fatal(err)
	}
	hr.SetFinalizers(append(hr.GetFinalizers(), release.FluxFinalizer))
	if err := unstructured.SetNestedField(hr.Object, true, "spec", "suspend"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(hr.Object, "kept", "spec", "someFutureField"); err != nil {
		t.Fatal(err)
	}

	changed := bucket()
	changed.Finalizers = nil
	changed.Labels = map[string]string{"team": "b"}
	changed.Spec.Locking = false
	if err := k.ApplyTo(changed, hr); err != nil {
		t.Fatal(err)
	}
	if got := hr.GetFinalizers(); !reflect.DeepEqual(got, []string{release.FluxFinalizer}) {
		t.Errorf("finalizers = %v: Flux's must survive, the user's removal must apply", got)
	}
	if suspend, _, _ := unstructured.NestedBool(hr.Object, "spec", "suspend"); !suspend {
		t.Error("spec.suspend was dropped")
	}
	if v, _, _ := unstructured.NestedString(hr.Object, "spec", "someFutureField"); v != "kept" {
		t.Error("an unknown HelmRelease field was dropped")
	}
	if hr.GetLabels()["apps.cozystack.io-team"] != "b" || hr.GetLabels()[release.LabelApplicationKind] != "Bucket" {
		t.Errorf("labels = %v", hr.GetLabels())
	}
	if v, _, _ := unstructured.NestedBool(hr.Object, "spec", "values", "locking"); v {
		t.Error("values not updated")
	}
}

func TestToObjectRoundTrip(t *testing.T) {
	k := kinds.Bucket()
	hr := k.NewRelease("tenant-a", "photos")
	in := bucket()
	if err := k.ApplyTo(in, hr); err != nil {
		t.Fatal(err)
	}
	hr.SetFinalizers(append(hr.GetFinalizers(), release.FluxFinalizer))
	hr.SetUID("uid-1")
	hr.SetResourceVersion("42")
	hr.SetGeneration(3)
	status := map[string]any{
		"observedGeneration": int64(-1),
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "ok",
			"lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": int64(3)}},
		"history": []any{map[string]any{"chartVersion": "1.2.3"}},
	}
	if err := unstructured.SetNestedField(hr.Object, status, "status"); err != nil {
		t.Fatal(err)
	}

	obj, err := k.ToObject(gv, hr)
	if err != nil {
		t.Fatal(err)
	}
	out := obj.(*appsv1alpha1.Bucket)
	if out.Name != "photos" || out.UID != "uid-1" || out.ResourceVersion != "42" || out.Generation != 3 {
		t.Errorf("identity: %+v", out.ObjectMeta)
	}
	if !reflect.DeepEqual(out.Labels, in.Labels) || !reflect.DeepEqual(out.Annotations, in.Annotations) ||
		!reflect.DeepEqual(out.Finalizers, in.Finalizers) || !reflect.DeepEqual(out.ManagedFields, in.ManagedFields) {
		t.Errorf("metadata did not round-trip:\n got %+v\nwant %+v", out.ObjectMeta, in.ObjectMeta)
	}
	if !reflect.DeepEqual(out.Spec, in.Spec) {
		t.Errorf("spec did not round-trip: %+v", out.Spec)
	}
	// Flux's Ready, then WorkloadsReady Unknown: nothing recorded the release's workloads yet.
	if out.Status.Version != "1.2.3" || out.Status.ObservedGeneration != 0 || len(out.Status.Conditions) != 2 || out.Status.Conditions[0].ObservedGeneration != 3 ||
		out.Status.Conditions[1].Type != release.ConditionWorkloadsReady || out.Status.Conditions[1].Status != metav1.ConditionUnknown {
		t.Errorf("status = %+v", out.Status)
	}
	if out.APIVersion != "apps.cozy.io/v1alpha1" || out.Kind != "Bucket" {
		t.Errorf("type meta = %+v", out.TypeMeta)
	}
}

func TestToObjectRejectsForeignReleaseName(t *testing.T) {
	k := kinds.Bucket()
	hr := kinds.Kubernetes().NewRelease("tenant-a", "x")
	if _, err := k.ToObject(gv, hr); err == nil {
		t.Error("a release without the kind's prefix converted")
	}
}

func TestNameLimits(t *testing.T) {
	for _, k := range kinds.All() {
		if got := len(k.ReleaseName(string(make([]byte, k.MaxNameLength())))); got != release.MaxReleaseNameLength {
			t.Errorf("%s: longest name gives a %d-character release name", k.Kind, got)
		}
		if name, ok := k.ObjectName(k.ReleaseName("abc")); !ok || name != "abc" {
			t.Errorf("%s: ObjectName(ReleaseName(abc)) = %q, %v", k.Kind, name, ok)
		}
	}
}

func TestReservedKeys(t *testing.T) {
	for key, want := range map[string]bool{
		release.LabelApplicationKind:      true,
		"apps.cozystack.io-team":          false,
		"sharding.fluxcd.io/key":          true,
		"fluxcd.io/anything":              true,
		"reconcile.fluxcd.io/requestedAt": true,
		"notfluxcd.io/x":                  false,
		"team":                            false,
		"example.com/fluxcd.io":           false,
		"app.kubernetes.io/name":          false,
	} {
		if got := release.IsReserved(key); got != want {
			t.Errorf("IsReserved(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestFluxKeysHiddenAndKept(t *testing.T) {
	k := kinds.Bucket()
	hr := k.NewRelease("tenant-a", "photos")
	if err := k.ApplyTo(bucket(), hr); err != nil {
		t.Fatal(err)
	}
	labels := hr.GetLabels()
	labels["sharding.fluxcd.io/key"] = "shard1"
	hr.SetLabels(labels)
	obj, err := k.ToObject(gv, hr)
	if err != nil {
		t.Fatal(err)
	}
	b := obj.(*appsv1alpha1.Bucket)
	if _, visible := b.Labels["sharding.fluxcd.io/key"]; visible {
		t.Error("Flux's sharding label is visible to the user")
	}
	b.Labels = map[string]string{"team": "c"}
	if err := k.ApplyTo(b, hr); err != nil {
		t.Fatal(err)
	}
	if hr.GetLabels()["sharding.fluxcd.io/key"] != "shard1" {
		t.Errorf("an update stripped Flux's sharding label: %v", hr.GetLabels())
	}
}

func TestUnreadableValuesAreServedWithACondition(t *testing.T) {
	k := kinds.Bucket()
	hr := k.NewRelease("tenant-a", "old")
	if err := k.ApplyTo(bucket(), hr); err != nil {
		t.Fatal(err)
	}
	// As another tool might have written it: a string where the kind has a map.
	if err := unstructured.SetNestedField(hr.Object, "everyone", "spec", "values", "users"); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedSlice(hr.Object, []any{map[string]any{"type": "Released", "status": "True", "reason": "InstallSucceeded"}}, "status", "conditions")
	hr.SetUID("u-1")
	obj, err := k.ToObject(gv, hr)
	var unreadable *release.UnreadableError
	if !errors.As(err, &unreadable) || obj == nil {
		t.Fatalf("want the object with an UnreadableError, got %v, %v", obj, err)
	}
	b := obj.(*appsv1alpha1.Bucket)
	if b.Name != "old" || b.UID != "u-1" || b.Labels["team"] != "a" {
		t.Errorf("identity and metadata must be served: %+v", b.ObjectMeta)
	}
	var ready, released bool
	for _, c := range b.Status.Conditions {
		ready = ready || (c.Type == "Ready" && c.Status == metav1.ConditionFalse && c.Reason == release.ReasonUnreadableValues && strings.Contains(c.Message, "users"))
		released = released || c.Type == "Released"
	}
	if !ready || !released {
		t.Errorf("conditions must say why and keep Flux's: %+v", b.Status.Conditions)
	}
}
