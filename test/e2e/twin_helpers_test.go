package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/test/framework"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// The CRD twins: one CRD per apps.cozy.io kind, in the group twinGroup, with the schema the
// aggregated server serves. The semantics suite runs against both, so every shared behaviour is
// compared with a real CRD served by the same kube-apiserver.
const twinGroup = "twin.cozy.io"

// quantityModel is written as CRD authors write a resource.Quantity (controller-gen's form:
// int-or-string with the quantity pattern): its OpenAPI v3 form (oneOf string, number) is not a
// structural schema.
const quantityModel = "io.k8s.apimachinery.pkg.api.resource.Quantity"

const quantityPattern = `^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`

// installTwinCRDs builds every kind's twin from the OpenAPI v3 document kube-apiserver's
// aggregator serves for apps.cozy.io, unchanged but for two steps every CRD author takes:
// references are inlined (CRD schemas have none) and metadata is left to kube-apiserver. Creating
// them is itself a check: kube-apiserver refuses a schema that is not a valid CRD schema. The
// inlining is written here apart from pkg/validation's on purpose: the reference must not share
// the code it checks, and it starts from what is served, not from the Go definitions.
func installTwinCRDs(ctx context.Context) error {
	schemas, err := servedSchemas(ctx)
	if err != nil {
		return err
	}
	for _, k := range kinds.All() {
		var selectable []apiextensionsv1.SelectableField
		for _, f := range k.SelectableFields {
			selectable = append(selectable, apiextensionsv1.SelectableField{JSONPath: "." + f.Path})
		}
		if err := installTwin(ctx, schemas, k.Kind, k.Resource, k.Singular, selectable); err != nil {
			return err
		}
	}
	return nil
}

// installTwin creates the twin CRD of one kind from its served schema.
func installTwin(ctx context.Context, schemas map[string]any, kind, resource, singular string, selectable []apiextensionsv1.SelectableField) error {
	model := "io.cozy.apps.v1alpha1." + kind
	root, ok := schemas[model].(map[string]any)
	if !ok {
		return fmt.Errorf("the served OpenAPI has no schema %s", model)
	}
	resolved, err := inlineRefs(schemas, root, map[string]bool{model: true})
	if err != nil {
		return fmt.Errorf("%s: %w", model, err)
	}
	props, _ := resolved["properties"].(map[string]any)
	props["metadata"] = map[string]any{"type": "object"}
	raw, err := json.Marshal(resolved)
	if err != nil {
		return err
	}
	var schema apiextensionsv1.JSONSchemaProps
	if err := json.Unmarshal(raw, &schema); err != nil {
		return fmt.Errorf("the served schema of %s is not a CRD schema: %w", kind, err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: resource + "." + twinGroup},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: twinGroup,
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: resource, Singular: singular, Kind: kind, ListKind: kind + "List"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1alpha1", Served: true, Storage: true,
				Subresources:     &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				SelectableFields: selectable,
				Schema:           &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &schema},
			}},
		},
	}
	crds := cp.APIExtensions.ApiextensionsV1().CustomResourceDefinitions()
	if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("kube-apiserver refuses the served schema of %s as a CRD schema: %w", kind, err)
	}
	return framework.WaitEstablished(ctx, cp.APIExtensions, crd.Name)
}

// servedSchemas fetches components.schemas of apps.cozy.io/v1alpha1 from kube-apiserver's
// aggregated OpenAPI v3.
func servedSchemas(ctx context.Context) (map[string]any, error) {
	raw, err := cp.Kube.Discovery().RESTClient().Get().AbsPath("/openapi/v3/apis/apps.cozy.io/v1alpha1").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetching the served OpenAPI v3: %w", err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	return doc.Components.Schemas, nil
}

// inlineRefs returns node with every $ref replaced by the schema it names. kube-apiserver serves
// a reference that carries a default or description as a one-element allOf beside them; that is
// the same reference.
func inlineRefs(schemas map[string]any, node map[string]any, visiting map[string]bool) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range node {
		out[k] = v
	}
	if allOf, ok := out["allOf"].([]any); ok && len(allOf) == 1 {
		if inner, ok := allOf[0].(map[string]any); ok && inner["$ref"] != nil {
			delete(out, "allOf")
			out["$ref"] = inner["$ref"]
		}
	}
	if ref, ok := out["$ref"].(string); ok {
		delete(out, "$ref")
		model := strings.TrimPrefix(ref, "#/components/schemas/")
		var target map[string]any
		switch {
		case model == quantityModel:
			target = map[string]any{"x-kubernetes-int-or-string": true, "anyOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}, "pattern": quantityPattern}
		case visiting[model]:
			return nil, fmt.Errorf("recursive reference to %s", model)
		default:
			def, ok := schemas[model].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("unknown reference %s", model)
			}
			visiting[model] = true
			resolved, err := inlineRefs(schemas, def, visiting)
			delete(visiting, model)
			if err != nil {
				return nil, err
			}
			target = resolved
		}
		for k, v := range out {
			if k == "x-kubernetes-validations" {
				existing, _ := target[k].([]any)
				more, _ := v.([]any)
				target[k] = append(append([]any{}, existing...), more...)
				continue
			}
			target[k] = v
		}
		return target, nil
	}
	if props, ok := out["properties"].(map[string]any); ok {
		resolved := make(map[string]any, len(props))
		for name, p := range props {
			child, ok := p.(map[string]any)
			if !ok {
				continue
			}
			r, err := inlineRefs(schemas, child, visiting)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			resolved[name] = r
		}
		out["properties"] = resolved
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if child, ok := out[key].(map[string]any); ok {
			r, err := inlineRefs(schemas, child, visiting)
			if err != nil {
				return nil, err
			}
			out[key] = r
		}
	}
	return out, nil
}

// warningCollector records the warnings of the responses a client receives, for comparing them
// with the twin's.
type warningCollector struct {
	mu       sync.Mutex
	messages []string
}

// HandleWarningHeader records one warning.
func (w *warningCollector) HandleWarningHeader(code int, agent, message string) {
	if code != 299 || message == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.messages = append(w.messages, message)
}

// take returns the warnings recorded since the last take, sorted.
func (w *warningCollector) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.messages
	w.messages = nil
	sort.Strings(out)
	return out
}

// warningClient is a cluster-admin dynamic client whose responses' warnings are recorded.
func warningClient() (dynamic.Interface, *warningCollector) {
	warnings := &warningCollector{}
	cfg := rest.CopyConfig(cp.Config)
	cfg.WarningHandler = warnings
	return dynamic.NewForConfigOrDie(cfg), warnings
}
