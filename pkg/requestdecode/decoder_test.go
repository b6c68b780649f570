package requestdecode_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/apiserver"
	"github.com/cozystack/apps-apiserver/pkg/openapi"
	"github.com/cozystack/apps-apiserver/pkg/requestdecode"
	"github.com/cozystack/apps-apiserver/pkg/validation"
)

// decoder returns the request decoder for a media type, strict or not, serving Bucket and
// Kubernetes with their real schemas.
func decoder(t *testing.T, mediaType string, strict bool) runtime.Decoder {
	t.Helper()
	coercers := map[runtime.Object]requestdecode.Coercer{}
	for obj, model := range map[runtime.Object]string{&appsv1alpha1.Bucket{}: "Bucket", &appsv1alpha1.Kubernetes{}: "Kubernetes"} {
		s, err := validation.New(openapi.Definitions, "io.cozy.apps.v1alpha1."+model)
		if err != nil {
			t.Fatal(err)
		}
		coercers[obj] = s
	}
	ns := requestdecode.NewNegotiatedSerializer(apiserver.Codecs, coercers)
	info, ok := runtime.SerializerInfoForMediaType(ns.SupportedMediaTypes(), mediaType)
	if !ok {
		t.Fatalf("no serializer for %s", mediaType)
	}
	if strict {
		return info.StrictSerializer
	}
	return info.Serializer
}

func decodeBucket(t *testing.T, strict bool, body string) (*appsv1alpha1.Bucket, field.ErrorList, error) {
	t.Helper()
	into := &appsv1alpha1.Bucket{}
	obj, _, err := decoder(t, runtime.ContentTypeJSON, strict).Decode([]byte(body), nil, into)
	if obj == nil {
		return nil, nil, err
	}
	b := obj.(*appsv1alpha1.Bucket)
	return b, requestdecode.TakeErrors(b), err
}

const bucketHead = `{"apiVersion":"apps.cozy.io/v1alpha1","kind":"Bucket","metadata":{"name":"b"},`

func TestWrongTypesAreRemovedAndReported(t *testing.T) {
	b, errs, err := decodeBucket(t, true, bucketHead+`"spec":{"locking":"true","users":{"a":{"readonly":"yes"}},"storagePool":"fast"}}`)
	if err != nil {
		t.Fatalf("decoding must succeed so validation can answer 422: %v", err)
	}
	if len(errs) != 2 || !hasError(errs, field.ErrorTypeTypeInvalid, "spec.locking") || !hasError(errs, field.ErrorTypeTypeInvalid, "spec.users.a.readonly") {
		t.Fatalf("errors: %v", errs)
	}
	if b.Spec.StoragePool != "fast" || b.Spec.Locking || b.Spec.Users["a"].Readonly != nil {
		t.Errorf("valid fields must be kept and invalid ones removed: %+v", b.Spec)
	}
	if _, left := b.Annotations["apiserver.apps.cozy.io/request-errors"]; left {
		t.Error("TakeErrors must remove the annotation")
	}
}

func TestSpecOfTheWrongTypeIsReported(t *testing.T) {
	_, errs, err := decodeBucket(t, false, bucketHead+`"spec":"x"}`)
	if err != nil || !hasError(errs, field.ErrorTypeTypeInvalid, "spec") {
		t.Fatalf("err %v, errors %v", err, errs)
	}
}

func TestNumbersNoGoValueHoldsAreADecodeError(t *testing.T) {
	into := &appsv1alpha1.Kubernetes{}
	for _, number := range []string{"1e400", strings.Repeat("9", 400)} {
		body := `{"apiVersion":"apps.cozy.io/v1alpha1","kind":"Kubernetes","metadata":{"name":"k"},"spec":{"addons":{"certManager":{"valuesOverride":{"x":` + number + `}}}}}`
		if _, _, err := decoder(t, runtime.ContentTypeJSON, false).Decode([]byte(body), nil, into); err == nil {
			t.Errorf("%s...: decoded without error", number[:5])
		}
	}
}

func TestApiVersionAndKindAreRequired(t *testing.T) {
	for _, body := range []string{`{"kind":"Bucket","metadata":{"name":"b"}}`, `{"apiVersion":"apps.cozy.io/v1alpha1","metadata":{"name":"b"}}`} {
		if _, _, err := decodeBucket(t, false, body); err == nil || !strings.Contains(err.Error(), "is missing") {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// Another kind in the body decodes, so validation answers a 422 at kind as for a custom resource,
// reporting that error alone.
func TestAnotherKindIsReportedAlone(t *testing.T) {
	b, errs, err := decodeBucket(t, false, `{"apiVersion":"apps.cozy.io/v1alpha1","kind":"Kubernetes","metadata":{"name":"b"},"spec":{"locking":"no"}}`)
	if err != nil {
		t.Fatalf("decoding must succeed so validation can answer 422: %v", err)
	}
	typeErrs := requestdecode.TypeMetaErrors(errs)
	if len(typeErrs) != 1 || typeErrs[0].Field != "kind" || typeErrs[0].Detail != "must be Bucket" || typeErrs[0].BadValue != "Kubernetes" {
		t.Errorf("errors: %v", errs)
	}
	if b.Kind != "Bucket" {
		t.Errorf("decoded as %q", b.Kind)
	}
}

func TestStrictDecodingStillReportsDuplicateAndUnknownFields(t *testing.T) {
	_, _, err := decodeBucket(t, true, bucketHead+`"spec":{"storagePool":"a","storagePool":"b","colour":"red"}}`)
	strictErr, ok := runtime.AsStrictDecodingError(err)
	if !ok {
		t.Fatalf("want a strict decoding error, got %v", err)
	}
	text := strictErr.Error()
	if !strings.Contains(text, `duplicate field "spec.storagePool"`) || !strings.Contains(text, `unknown field "spec.colour"`) {
		t.Errorf("strict errors: %s", text)
	}
}

func TestTooDeepValuesAreRefusedBeforeDecoding(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100)
	body := `{"apiVersion":"apps.cozy.io/v1alpha1","kind":"Kubernetes","metadata":{"name":"k"},"spec":{"addons":{"certManager":{"valuesOverride":` + deep + `}}}}`
	obj, _, err := decoder(t, runtime.ContentTypeJSON, false).Decode([]byte(body), nil, &appsv1alpha1.Kubernetes{})
	if err != nil {
		t.Fatal(err)
	}
	errs := requestdecode.TakeErrors(obj)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "levels below spec") || !strings.HasPrefix(errs[0].Field, "spec.addons.certManager.valuesOverride") {
		t.Fatalf("errors: %v", errs)
	}
	if spec := obj.(*appsv1alpha1.Kubernetes).Spec; spec != nil && spec.Addons != nil && spec.Addons.CertManager != nil && spec.Addons.CertManager.ValuesOverride != nil && len(spec.Addons.CertManager.ValuesOverride.Raw) > 2 {
		t.Errorf("a spec over the limits must not be decoded: %s", spec.Addons.CertManager.ValuesOverride.Raw)
	}
}

func TestDefaultsFillAbsentFieldsOfNewMapEntries(t *testing.T) {
	body := `{"apiVersion":"apps.cozy.io/v1alpha1","kind":"Kubernetes","metadata":{"name":"k"},"spec":{"nodeGroups":{"md1":{"minReplicas":1}}}}`
	obj, _, err := decoder(t, runtime.ContentTypeJSON, false).Decode([]byte(body), nil, &appsv1alpha1.Kubernetes{})
	if err != nil {
		t.Fatal(err)
	}
	md1 := obj.(*appsv1alpha1.Kubernetes).Spec.NodeGroups["md1"]
	if *md1.MaxReplicas != 10 || *md1.InstanceType != "u1.medium" || md1.MinReplicas != 1 {
		t.Errorf("node group: %+v", md1)
	}
}

func TestYAMLBodiesAreCoercedToo(t *testing.T) {
	body := "apiVersion: apps.cozy.io/v1alpha1\nkind: Bucket\nmetadata: {name: b}\nspec:\n  locking: yes-please\n"
	obj, _, err := decoder(t, runtime.ContentTypeYAML, false).Decode([]byte(body), nil, &appsv1alpha1.Bucket{})
	if err != nil {
		t.Fatal(err)
	}
	if errs := requestdecode.TakeErrors(obj); !hasError(errs, field.ErrorTypeTypeInvalid, "spec.locking") {
		t.Fatalf("errors: %v", errs)
	}
}

func TestOtherTypesPassThrough(t *testing.T) {
	// A kind without a coercer is decoded by the wrapped serializer alone: a wrong type fails it.
	body := `{"apiVersion":"apps.cozy.io/v1alpha1","kind":"VMDisk","metadata":{"name":"v"},"spec":{"optical":"no"}}`
	if _, _, err := decoder(t, runtime.ContentTypeJSON, false).Decode([]byte(body), nil, &appsv1alpha1.VMDisk{}); err == nil {
		t.Fatal(err)
	}
}

func TestForgedErrorAnnotationIsRefused(t *testing.T) {
	b := &appsv1alpha1.Bucket{}
	b.Annotations = map[string]string{"apiserver.apps.cozy.io/request-errors": "not json"}
	if errs := requestdecode.TakeErrors(b); len(errs) != 1 || errs[0].Type != field.ErrorTypeForbidden {
		t.Fatalf("errors: %v", errs)
	}
}

func hasError(errs field.ErrorList, typ field.ErrorType, path string) bool {
	for _, e := range errs {
		if e.Type == typ && e.Field == path {
			return true
		}
	}
	return false
}
