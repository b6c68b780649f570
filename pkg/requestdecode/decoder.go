// Package requestdecode decodes request bodies of apps.cozy.io kinds the way
// apiextensions-apiserver decodes custom resources: as JSON first, checked and coerced against the
// kind's structural schema, and only then into the Go type. Typed decoding alone loses what a
// CRD reports: a wrong type fails the whole body with a 400 "cannot unmarshal" instead of a 422
// naming the field, a zero value vanishes under omitempty, and numbers out of range reach the
// field manager, which panics on them.
//
// Errors found while coercing cannot travel through the generic handlers' decode step (every
// decode error becomes a 400 there), so they ride on the decoded object in a reserved annotation
// and the kind's strategy reports them with the rest of validation, as a 422 — exactly where
// kube-apiserver reports a custom resource's schema errors.
package requestdecode

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// Coercer checks and coerces the {"spec": ...} content of one kind; validation.Schema is the
// implementation.
type Coercer interface {
	Coerce(obj map[string]any) field.ErrorList
}

// Pruner removes the fields a kind's schema does not declare and reports their paths; a Coercer
// that is one prunes every body before coercing it (unstructured objects, the defined kinds',
// would keep whatever they are given; typed ones would lose unknown fields inside a value of the
// wrong type without a word).
type Pruner interface {
	PruneUnknown(obj map[string]any) []string
}

func isUnstructured(into runtime.Object) bool {
	_, ok := into.(*unstructured.Unstructured)
	return ok
}

// NegotiatedSerializer is the group's serializer with request decoding of the given kinds
// replaced: JSON and YAML bodies decoded into one of their Go types are coerced first.
type NegotiatedSerializer struct {
	runtime.NegotiatedSerializer
	// kinds maps each kind's Go type to its coercer.
	kinds map[reflect.Type]Coercer
}

// NewNegotiatedSerializer wraps delegate; kinds maps an empty object of each kind to its schema.
func NewNegotiatedSerializer(delegate runtime.NegotiatedSerializer, kinds map[runtime.Object]Coercer) NegotiatedSerializer {
	byType := make(map[reflect.Type]Coercer, len(kinds))
	for obj, c := range kinds {
		byType[reflect.TypeOf(obj)] = c
	}
	return NegotiatedSerializer{NegotiatedSerializer: delegate, kinds: byType}
}

// SupportedMediaTypes returns the delegate's media types with JSON and YAML decoding wrapped.
func (n NegotiatedSerializer) SupportedMediaTypes() []runtime.SerializerInfo {
	infos := n.NegotiatedSerializer.SupportedMediaTypes()
	out := make([]runtime.SerializerInfo, len(infos))
	for i, info := range infos {
		out[i] = info
		var toJSON func([]byte) ([]byte, error)
		switch info.MediaType {
		case runtime.ContentTypeJSON:
			toJSON = func(data []byte) ([]byte, error) { return data, nil }
		case runtime.ContentTypeYAML:
			toJSON = yaml.YAMLToJSON
		default:
			continue
		}
		if info.Serializer != nil {
			out[i].Serializer = serializer{Serializer: info.Serializer, toJSON: toJSON, kinds: n.kinds}
		}
		if info.StrictSerializer != nil {
			out[i].StrictSerializer = serializer{Serializer: info.StrictSerializer, toJSON: toJSON, kinds: n.kinds, strict: true}
		}
	}
	return out
}

// serializer decodes like the serializer it wraps, after coercing bodies of the known kinds.
type serializer struct {
	runtime.Serializer
	toJSON func([]byte) ([]byte, error)
	kinds  map[reflect.Type]Coercer
	strict bool
}

// Decode coerces data when it is decoded into one of the kinds, then decodes it as the wrapped
// serializer would. Anything else passes through unchanged.
func (s serializer) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	coercer, ok := s.kinds[reflect.TypeOf(into)]
	if !ok {
		return s.Serializer.Decode(data, defaults, into)
	}
	raw, err := s.toJSON(data)
	if err != nil {
		return s.Serializer.Decode(data, defaults, into)
	}
	var content map[string]any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &content); err != nil || content == nil {
		// Not a JSON object, or numbers no Go value can hold (1e400): the wrapped serializer
		// gives the error kube-apiserver gives for a custom resource, a 400.
		if err == nil {
			err = fmt.Errorf("the body is not a JSON object")
		}
		obj, gvk, decodeErr := s.Serializer.Decode(data, defaults, into)
		if decodeErr != nil {
			return obj, gvk, decodeErr
		}
		return nil, gvk, err
	}
	// A custom resource must name its apiVersion and kind; the typed decoder would fill them in.
	if v, _ := content["apiVersion"].(string); v == "" {
		return nil, nil, runtime.NewMissingVersionErr(string(data))
	}
	if k, _ := content["kind"].(string); k == "" {
		return nil, nil, runtime.NewMissingKindErr(string(data))
	}
	// Status is the platform's: never written through the object, and never a reason to refuse it.
	delete(content, "status")
	// Pruned first, as kube-apiserver prunes a custom resource while decoding it: unknown fields
	// are reported also inside a value of the wrong type, which coercing then removes.
	var unknown []string
	if pruner, ok := coercer.(Pruner); ok {
		unknown = pruner.PruneUnknown(content)
	}
	errs := coercer.Coerce(content)
	if want := expectedKind(into); want != "" && content["kind"] != want {
		// Another kind in the body: as for a custom resource, a 422 saying which kind it must be
		// and nothing else, not the 400 of a kind the scheme does not know.
		errs = field.ErrorList{field.Invalid(field.NewPath("kind"), content["kind"], "must be "+want)}
		content["kind"] = want
	}
	var duplicates []error
	if s.strict {
		// Re-encoding below would silently keep the last of duplicated fields; ask the strict
		// decoder about the body as sent.
		duplicates = duplicateFields(s.Serializer, data, defaults, into)
		for _, path := range unknown {
			duplicates = append(duplicates, fmt.Errorf("unknown field %q", path))
		}
	}
	coerced, err := json.Marshal(content)
	if err != nil {
		return nil, nil, fmt.Errorf("re-encoding the coerced body: %w", err)
	}
	obj, gvk, err := s.Serializer.Decode(coerced, defaults, into)
	if err != nil {
		strictErr, isStrict := runtime.AsStrictDecodingError(err)
		if !isStrict || obj == nil {
			return obj, gvk, err
		}
		duplicates = append(duplicates, strictErr.Errors()...)
	}
	if len(errs) > 0 {
		if err := stash(obj, errs); err != nil {
			return nil, gvk, err
		}
	}
	if len(duplicates) > 0 {
		return obj, gvk, runtime.NewStrictDecodingError(duplicates)
	}
	return obj, gvk, nil
}

// expectedKind is the kind a body decoded into into must name: the kind an unstructured object
// was made with, or the Go type's name, which is the kind of every typed kind.
func expectedKind(into runtime.Object) string {
	if kind := into.GetObjectKind().GroupVersionKind().Kind; kind != "" {
		return kind
	}
	if t := reflect.TypeOf(into); t.Kind() == reflect.Pointer && !isUnstructured(into) {
		return t.Elem().Name()
	}
	return ""
}

// TypeMetaErrors are the errors about the body's kind among errs: as for a custom resource, they
// are reported alone, before the rest of the object is validated.
func TypeMetaErrors(errs field.ErrorList) field.ErrorList {
	var out field.ErrorList
	for _, e := range errs {
		if e.Field == "kind" {
			out = append(out, e)
		}
	}
	return out
}

// duplicateFields returns the strict decoder's duplicate-field errors for data.
func duplicateFields(d runtime.Decoder, data []byte, defaults *schema.GroupVersionKind, into runtime.Object) []error {
	scratch := reflect.New(reflect.TypeOf(into).Elem()).Interface().(runtime.Object)
	_, _, err := d.Decode(data, defaults, scratch)
	strictErr, ok := runtime.AsStrictDecodingError(err)
	if !ok {
		return nil
	}
	var out []error
	for _, e := range strictErr.Errors() {
		if strings.Contains(e.Error(), "duplicate field") {
			out = append(out, e)
		}
	}
	return out
}

// stashedError is a field.Error as it rides in the annotation.
type stashedError struct {
	Type     field.ErrorType `json:"type"`
	Field    string          `json:"field"`
	BadValue any             `json:"badValue,omitempty"`
	Detail   string          `json:"detail,omitempty"`
}

// stash records errs on obj for TakeErrors.
func stash(obj runtime.Object, errs field.ErrorList) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	out := make([]stashedError, 0, len(errs))
	for _, e := range errs {
		out = append(out, stashedError{Type: e.Type, Field: e.Field, BadValue: printable(e.BadValue), Detail: e.Detail})
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("recording decoding errors: %w", err)
	}
	annotations := m.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[release.AnnotationRequestErrors] = string(raw)
	m.SetAnnotations(annotations)
	return nil
}

// printable keeps scalar bad values and summarizes structures, as kube-apiserver's errors do.
func printable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		if len(x) > 256 {
			return x[:256] + "..."
		}
	}
	return v
}

// TakeErrors removes the errors the decoder recorded on obj and returns them. A client that sets
// the annotation itself only reports errors about its own request.
func TakeErrors(obj runtime.Object) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	annotations := m.GetAnnotations()
	raw, ok := annotations[release.AnnotationRequestErrors]
	if !ok {
		return nil
	}
	delete(annotations, release.AnnotationRequestErrors)
	if len(annotations) == 0 {
		annotations = nil
	}
	m.SetAnnotations(annotations)
	var stashed []stashedError
	if err := json.Unmarshal([]byte(raw), &stashed); err != nil {
		return field.ErrorList{field.Forbidden(field.NewPath("metadata", "annotations").Key(release.AnnotationRequestErrors), "is reserved for the server")}
	}
	errs := make(field.ErrorList, 0, len(stashed))
	for _, e := range stashed {
		errs = append(errs, &field.Error{Type: e.Type, Field: e.Field, BadValue: e.BadValue, Detail: e.Detail})
	}
	return errs
}
