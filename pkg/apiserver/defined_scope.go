package apiserver

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured/unstructuredscheme"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/versioning"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apiserver/pkg/endpoints/handlers"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/openapi"
	"github.com/cozystack/apps-apiserver/pkg/registry"
	"github.com/cozystack/apps-apiserver/pkg/requestdecode"
	"github.com/cozystack/apps-apiserver/pkg/validation"
)

// definedStorage is what the scopes take from a defined kind's storage: its tables and the fields
// its main resource resets (status).
type definedStorage interface {
	rest.TableConvertor
	rest.ResetFieldsStrategy
}

// scopeConfig is what the request scopes of every defined kind share: the server's authorizer,
// resource mapper, parameter codec and request size limit.
type scopeConfig struct {
	base handlers.RequestScope
}

// unstructuredScope is the generic handlers' scope of a resource of unstructured objects: their
// creator, typer and convertor (field selectors through fieldLabels), and a serializer that, with
// a coercer, checks and coerces request bodies against the kind's schema.
func (c scopeConfig) unstructuredScope(gvk schema.GroupVersionKind, resource string, clusterScoped bool,
	fieldLabels runtime.FieldLabelConversionFunc, coercer requestdecode.Coercer) handlers.RequestScope {
	gv := gvk.GroupVersion()
	creator := unstructuredscheme.NewUnstructuredCreator()
	typer := unstructuredTyper{delegate: Scheme, unstructured: unstructuredscheme.NewUnstructuredObjectTyper()}
	convertor := unstructuredConvertor{delegate: Scheme, kind: gvk, fieldLabels: fieldLabels}
	var serializer runtime.NegotiatedSerializer = unstructuredSerializer{infos: unstructuredMediaTypes(creator, typer), convertor: convertor}
	if coercer != nil {
		serializer = requestdecode.NewNegotiatedSerializer(serializer, map[runtime.Object]requestdecode.Coercer{&unstructured.Unstructured{}: coercer})
	}
	scope := c.base
	scope.Namer = handlers.ContextBasedNaming{Namer: meta.NewAccessor(), ClusterScoped: clusterScoped}
	scope.Serializer = serializer
	scope.StandardSerializers = serializer.SupportedMediaTypes()
	scope.Creater = creator
	scope.Convertor = convertor
	scope.UnsafeConvertor = convertor
	scope.Typer = typer
	scope.Resource = gv.WithResource(resource)
	scope.Kind = gvk
	scope.HubGroupVersion = gv
	scope.MetaGroupVersion = metav1.SchemeGroupVersion
	return scope
}

// requestScopes builds the generic handlers' scopes of a defined kind, as apiextensions-apiserver
// builds a CRD's: unstructured objects, a serializer that checks and coerces request bodies
// against the kind's schema, and a field manager from the kind's schema (the main resource resets
// status, as for a CRD with a status subresource; status is read-only).
func (c scopeConfig) requestScopes(d *kinds.Defined, table definedStorage, openapi *kindOpenAPI) (main, status *handlers.RequestScope, err error) {
	gvk := d.GroupVersionKind()
	scope := c.unstructuredScope(gvk, d.Kind.Resource, false, registry.FieldLabelConversion(d.Kind), d.Schema)
	scope.Defaulter = specDefaulter{kind: gvk, schema: d.Schema}
	scope.TableConvertor = table

	typeConverter, err := applyTypeConverter(openapi)
	if err != nil {
		return nil, nil, fmt.Errorf("server-side apply of %s: %w", d.Kind.Kind, err)
	}
	main, err = withFieldManager(scope, typeConverter, table.GetResetFields())
	if err != nil {
		return nil, nil, err
	}
	statusScope := scope
	statusScope.Subresource = "status"
	status = &statusScope
	return main, status, nil
}

func withFieldManager(scope handlers.RequestScope, tc managedfields.TypeConverter, reset map[fieldpath.APIVersion]*fieldpath.Set) (*handlers.RequestScope, error) {
	fm, err := managedfields.NewDefaultCRDFieldManager(tc, scope.Convertor, scope.Defaulter, scope.Creater, scope.Kind, scope.HubGroupVersion, "", fieldpath.NewExcludeFilterSetMap(reset))
	if err != nil {
		return nil, fmt.Errorf("field manager of %s: %w", scope.Kind.Kind, err)
	}
	scope.FieldManager = fm
	return &scope, nil
}

// staticModels are the OpenAPI models of the typed kinds and the apimachinery types they use,
// which a defined kind's OpenAPI refers to (ObjectMeta).
var staticModels = func() map[string]*spec.Schema {
	defs := openapi.Definitions(func(name string) spec.Ref { return spec.MustCreateRef("#/definitions/" + name) })
	out := make(map[string]*spec.Schema, len(defs))
	for name, d := range defs {
		s := d.Schema
		out[name] = &s
	}
	return out
}()

// applyTypeConverter is server-side apply's view of a defined kind, from the OpenAPI v3 that
// apiextensions-apiserver's builder made of the kind's CRD description.
func applyTypeConverter(k *kindOpenAPI) (managedfields.TypeConverter, error) {
	models := make(map[string]*spec.Schema, len(staticModels)+len(k.v3.Components.Schemas))
	for name, s := range staticModels {
		models[name] = s
	}
	for name, s := range k.v3.Components.Schemas {
		models[name] = s
	}
	return managedfields.NewTypeConverter(models, false)
}

// unstructuredMediaTypes are JSON and YAML for unstructured objects (defined kinds are not served
// as protobuf, as custom resources are not).
func unstructuredMediaTypes(creator runtime.ObjectCreater, typer runtime.ObjectTyper) []runtime.SerializerInfo {
	return []runtime.SerializerInfo{
		{
			MediaType: runtime.ContentTypeJSON, MediaTypeType: "application", MediaTypeSubType: "json", EncodesAsText: true,
			Serializer:       json.NewSerializerWithOptions(json.DefaultMetaFactory, creator, typer, json.SerializerOptions{}),
			PrettySerializer: json.NewSerializerWithOptions(json.DefaultMetaFactory, creator, typer, json.SerializerOptions{Pretty: true}),
			StrictSerializer: json.NewSerializerWithOptions(json.DefaultMetaFactory, creator, typer, json.SerializerOptions{Strict: true}),
			StreamSerializer: &runtime.StreamSerializerInfo{
				EncodesAsText: true,
				Serializer:    json.NewSerializerWithOptions(json.DefaultMetaFactory, creator, typer, json.SerializerOptions{}),
				Framer:        json.Framer,
			},
		},
		{
			MediaType: runtime.ContentTypeYAML, MediaTypeType: "application", MediaTypeSubType: "yaml", EncodesAsText: true,
			Serializer:       json.NewSerializerWithOptions(json.DefaultMetaFactory, creator, typer, json.SerializerOptions{Yaml: true}),
			StrictSerializer: json.NewSerializerWithOptions(json.DefaultMetaFactory, creator, typer, json.SerializerOptions{Yaml: true, Strict: true}),
		},
	}
}

// unstructuredSerializer encodes unstructured objects as they are and everything else (Status,
// Table, lists of meta types) through the Scheme, as apiextensions-apiserver's serializer for
// custom resources does.
type unstructuredSerializer struct {
	infos     []runtime.SerializerInfo
	convertor runtime.ObjectConvertor
}

func (s unstructuredSerializer) SupportedMediaTypes() []runtime.SerializerInfo { return s.infos }

func (s unstructuredSerializer) EncoderForVersion(encoder runtime.Encoder, gv runtime.GroupVersioner) runtime.Encoder {
	return versioning.NewCodec(encoder, nil, s.convertor, Scheme, Scheme, Scheme, gv, nil, "definedKindSerializer")
}

func (s unstructuredSerializer) DecoderToVersion(decoder runtime.Decoder, gv runtime.GroupVersioner) runtime.Decoder {
	return versioning.NewCodec(nil, decoder, s.convertor, Scheme, Scheme, nil, nil, gv, "definedKindSerializer")
}

// unstructuredTyper types unstructured objects by their apiVersion and kind, and the rest by the
// Scheme.
type unstructuredTyper struct {
	delegate, unstructured runtime.ObjectTyper
}

func (t unstructuredTyper) ObjectKinds(obj runtime.Object) ([]schema.GroupVersionKind, bool, error) {
	if _, ok := obj.(runtime.Unstructured); ok {
		return t.unstructured.ObjectKinds(obj)
	}
	return t.delegate.ObjectKinds(obj)
}

func (t unstructuredTyper) Recognizes(gvk schema.GroupVersionKind) bool {
	return t.delegate.Recognizes(gvk) || t.unstructured.Recognizes(gvk)
}

// unstructuredConvertor is the identity for the one version of a defined kind and the Scheme's
// conversion for everything else.
type unstructuredConvertor struct {
	delegate    runtime.ObjectConvertor
	kind        schema.GroupVersionKind
	fieldLabels runtime.FieldLabelConversionFunc
}

func (c unstructuredConvertor) Convert(in, out, context any) error {
	src, ok := in.(runtime.Unstructured)
	if !ok {
		return c.delegate.Convert(in, out, context)
	}
	dst, ok := out.(runtime.Unstructured)
	if !ok {
		return fmt.Errorf("cannot convert %T to %T", in, out)
	}
	dst.SetUnstructuredContent(runtime.DeepCopyJSON(src.UnstructuredContent()))
	return nil
}

func (c unstructuredConvertor) ConvertToVersion(in runtime.Object, target runtime.GroupVersioner) (runtime.Object, error) {
	if _, ok := in.(runtime.Unstructured); !ok {
		return c.delegate.ConvertToVersion(in, target)
	}
	gvk := in.GetObjectKind().GroupVersionKind()
	if want, ok := target.KindForGroupVersionKinds([]schema.GroupVersionKind{gvk}); ok && want == gvk {
		return in, nil
	}
	return nil, runtime.NewNotRegisteredGVKErrForTarget("definedKindSerializer", gvk, target)
}

func (c unstructuredConvertor) ConvertFieldLabel(gvk schema.GroupVersionKind, label, value string) (string, string, error) {
	if gvk == c.kind {
		return c.fieldLabels(label, value)
	}
	return c.delegate.ConvertFieldLabel(gvk, label, value)
}

// specDefaulter applies a defined kind's schema defaults to the spec of its objects (for server-side
// apply, which defaults the applied configuration before merging).
type specDefaulter struct {
	kind   schema.GroupVersionKind
	schema *validation.Schema
}

func (d specDefaulter) Default(in runtime.Object) {
	u, ok := in.(*unstructured.Unstructured)
	if !ok || u.GroupVersionKind() != d.kind {
		return
	}
	spec, found := u.Object["spec"]
	if !found {
		return
	}
	content := map[string]any{"spec": spec}
	d.schema.Default(content)
	u.Object["spec"] = content["spec"]
}
