package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// hugeNumber stands for a JSON number no Go value can hold; it is spliced into the patch text.
const hugeNumber = "__HUGE_NUMBER__"

// patchesPerKind is how many random merge patches each kind gets.
const patchesPerKind = 150

// schemaPath is a field of a kind's spec with its schema, as the twin CRD declares it.
type schemaPath struct {
	path   []string
	schema map[string]any
}

// TestTwinRandomPatches sends the same seeded random merge patches — wrong types, boundaries
// ±1, empty values, nulls, huge numbers, unicode, unknown nested fields, over every path of each
// kind's schema — to apps.cozy.io and to its CRD twin, and compares the status code, the causes'
// field paths and the stored spec. The seed is logged; COZY_TWIN_SEED replays a run.
func TestTwinRandomPatches(t *testing.T) {
	seed := int64(20261123)
	if s := os.Getenv("COZY_TWIN_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d", seed)
	schemas, err := servedSchemas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds.All() {
		t.Run(k.Kind, func(t *testing.T) {
			compareRandomPatches(t, seed, schemas, k, loadExample(t, strings.ToLower(k.Kind)+".yaml"))
		})
	}
}

// compareRandomPatches sends patchesPerKind seeded random merge patches over every path of the
// kind's served schema to the apps.cozy.io resource and to its twin, starting from example, and
// compares the status code, the causes' field paths, the warnings, and the stored spec and
// metadata. It runs as `make run` does: the real helm-controller reconciles every object under
// test (installing its chart, writing the release's status and finalizer throughout), and its
// writes must show nowhere but in status — no conflict, no finalizer, label or annotation more
// than the CRD's object has.
func compareRandomPatches(t *testing.T, seed int64, schemas map[string]any, k *release.Kind, example *unstructured.Unstructured) {
	rng := rand.New(rand.NewSource(seed))
	root, err := inlineRefs(schemas, schemas["io.cozy.apps.v1alpha1."+k.Kind].(map[string]any), map[string]bool{})
	if err != nil {
		t.Fatal(err)
	}
	spec := root["properties"].(map[string]any)["spec"].(map[string]any)
	paths := collectPaths(nil, spec, 0)
	ns := newTenant(t)
	client, warnings := warningClient()
	virtual := client.Resource(gvr(k.Resource)).Namespace(ns)
	twin := client.Resource(schema.GroupVersionResource{Group: twinGroup, Version: "v1alpha1", Resource: k.Resource}).Namespace(ns)
	name := ""
	reset := func(i int) {
		name = fmt.Sprintf("r%d", i)
		for _, c := range []struct {
			client dynamic.ResourceInterface
			group  string
		}{{virtual, "apps.cozy.io"}, {twin, twinGroup}} {
			obj := example.DeepCopy()
			obj.SetAPIVersion(c.group + "/v1alpha1")
			obj.SetName(name)
			obj.SetLabels(map[string]string{fluxLabel: "true"})
			if _, err := c.client.Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
				t.Fatalf("creating %s in %s: %v", name, c.group, err)
			}
		}
		// The comparison starts once Flux reconciles the object (its finalizer on the release).
		eventually(t, 60*time.Second, "Flux reconciles "+name, func(ctx context.Context) (bool, error) {
			hr, err := helmRelease(ctx, ns, k.ReleaseName(name))
			return err == nil && len(hr.GetFinalizers()) > 0, err
		})
	}
	reset(0)
	var same, differ int
	for i := 1; i <= patchesPerKind; i++ {
		p := paths[rng.Intn(len(paths))]
		value := randomValue(rng, p.schema)
		patch := buildPatch(p.path, value)
		warnings.take()
		vCode, vCauses := sendPatch(virtual, name, patch)
		vWarnings := warnings.take()
		tCode, tCauses := sendPatch(twin, name, patch)
		tWarnings := warnings.take()
		// Deliberate (README): an integer its 32-bit field cannot hold is refused with its
		// own error, without the CEL rules a CRD would still evaluate over it.
		beyondInt32 := strings.Contains(patch, "2147483648") || strings.Contains(patch, "9223372036854775807")
		diff := ""
		switch {
		case vCode != tCode:
			diff = fmt.Sprintf("status %d, CRD %d (causes %v / %v)", vCode, tCode, vCauses, tCauses)
		case beyondInt32:
		case strings.Join(vCauses, ",") != strings.Join(tCauses, ","):
			diff = fmt.Sprintf("causes %v, CRD %v", vCauses, tCauses)
		case strings.Join(vWarnings, "\n") != strings.ReplaceAll(strings.Join(tWarnings, "\n"), twinGroup, "apps.cozy.io"):
			diff = fmt.Sprintf("warnings %q, CRD %q", vWarnings, tWarnings)
		case vCode == 200:
			vSpec, tSpec := storedSpec(t, virtual, name, spec), storedSpec(t, twin, name, spec)
			if vSpec != tSpec {
				diff = fmt.Sprintf("stored spec\n  here %s\n  CRD  %s", vSpec, tSpec)
			} else if vMeta, tMeta := storedMeta(t, virtual, name), storedMeta(t, twin, name); vMeta != tMeta {
				diff = fmt.Sprintf("stored metadata\n  here %s\n  CRD  %s", vMeta, tMeta)
			}
		}
		if diff == "" {
			same++
			continue
		}
		differ++
		t.Errorf("patch %d %s: %s", i, patch, diff)
		reset(i)
	}
	t.Logf("%s: %d patches over %d paths, %d answered as the CRD, %d differently", k.Kind, patchesPerKind, len(paths), same, differ)
}

// storedMeta is what a client sees of the stored object's metadata that Flux must not change:
// labels, annotations, finalizers, owner references and generation.
func storedMeta(t *testing.T, c dynamic.ResourceInterface, name string) string {
	t.Helper()
	obj, err := c.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading back %s: %v", name, err)
	}
	raw, _ := json.Marshal(map[string]any{
		"labels": obj.GetLabels(), "annotations": obj.GetAnnotations(), "finalizers": obj.GetFinalizers(),
		"ownerReferences": obj.GetOwnerReferences(), "generation": obj.GetGeneration(),
	})
	return string(raw)
}

// collectPaths lists every field under a schema node; map values appear under the key "k1".
func collectPaths(prefix []string, node map[string]any, depth int) []schemaPath {
	out := []schemaPath{{path: prefix, schema: node}}
	if depth > 8 {
		return out
	}
	if props, ok := node["properties"].(map[string]any); ok {
		names := make([]string, 0, len(props))
		for name := range props {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			out = append(out, collectPaths(append(append([]string{}, prefix...), name), props[name].(map[string]any), depth+1)...)
		}
	}
	if add, ok := node["additionalProperties"].(map[string]any); ok {
		out = append(out, collectPaths(append(append([]string{}, prefix...), "k1"), add, depth+1)...)
	}
	return out
}

// randomValue picks a value for a field of the given schema: valid ones, boundaries, wrong types.
func randomValue(rng *rand.Rand, s map[string]any) any {
	num := func(key string) (int64, bool) {
		f, ok := s[key].(float64)
		return int64(f), ok
	}
	candidates := []any{nil, "", "ünïcødé ✓ 漢字", int64(0), true, hugeNumber, map[string]any{"unknownField": int64(1)}, []any{}}
	switch {
	case s["x-kubernetes-int-or-string"] == true:
		candidates = append(candidates, "1Gi", "1500m", int64(5), "lots", int64(-1), "1e3", 2.5)
	case s["type"] == "string":
		candidates = append(candidates, "x", "v1.34", strings.Repeat("a", 64), strings.Repeat("b", 254))
		if enum, ok := s["enum"].([]any); ok && len(enum) > 0 {
			candidates = append(candidates, enum[rng.Intn(len(enum))], enum[0], "Bogus")
		}
		if max, ok := num("maxLength"); ok {
			candidates = append(candidates, strings.Repeat("c", int(max)), strings.Repeat("c", int(max)+1))
		}
	case s["type"] == "integer":
		candidates = append(candidates, int64(-1), int64(1), int64(2147483648), 1.5, "3", int64(9223372036854775807))
		for _, key := range []string{"minimum", "maximum"} {
			if v, ok := num(key); ok {
				candidates = append(candidates, v-1, v, v+1)
			}
		}
	case s["type"] == "boolean":
		candidates = append(candidates, false, "true", int64(1))
	case s["type"] == "array":
		item := map[string]any{}
		if items, ok := s["items"].(map[string]any); ok {
			item = items
		}
		candidates = append(candidates, []any{nil}, []any{randomValue(rng, item)}, []any{randomValue(rng, item), randomValue(rng, item)}, "x")
	case s["type"] == "object":
		candidates = append(candidates, map[string]any{}, "x", map[string]any{"a": map[string]any{"b": []any{int64(1), "x"}}})
		if props, ok := s["properties"].(map[string]any); ok {
			for name, p := range props {
				candidates = append(candidates, map[string]any{name: randomValue(rng, p.(map[string]any))})
				break
			}
		}
	}
	return candidates[rng.Intn(len(candidates))]
}

func buildPatch(path []string, value any) string {
	var node any = value
	for i := len(path) - 1; i >= 0; i-- {
		node = map[string]any{path[i]: node}
	}
	raw, _ := json.Marshal(map[string]any{"spec": node})
	return strings.ReplaceAll(string(raw), `"`+hugeNumber+`"`, "1e400")
}

// sendPatch applies a merge patch and returns the status code and the sorted causes' fields.
func sendPatch(c dynamic.ResourceInterface, name, patch string) (int, []string) {
	_, err := c.Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err == nil {
		return 200, nil
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok {
		return -1, []string{err.Error()}
	}
	var fields []string
	if d := status.Status().Details; d != nil {
		for _, cause := range d.Causes {
			fields = append(fields, cause.Field)
		}
	}
	sort.Strings(fields)
	return int(status.Status().Code), fields
}

// storedSpec reads the spec back, with quantities (the schema's int-or-string fields) in
// canonical form: the Go types store a resource.Quantity canonically (1500m is 1500m, 1e3 is 1k,
// 5 is "5"), a CRD as sent (README).
func storedSpec(t *testing.T, c dynamic.ResourceInterface, name string, specSchema map[string]any) string {
	t.Helper()
	obj, err := c.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading back %s: %v", name, err)
	}
	spec, _, _ := unstructured.NestedFieldCopy(obj.Object, "spec")
	raw, _ := json.Marshal(canonicalQuantities(specSchema, spec))
	return string(raw)
}

func canonicalQuantities(s map[string]any, v any) any {
	if s == nil {
		return v
	}
	if s["x-kubernetes-int-or-string"] == true {
		var text string
		switch x := v.(type) {
		case string:
			text = x
		case int64:
			text = strconv.FormatInt(x, 10)
		case float64:
			text = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return v
		}
		if q, err := resource.ParseQuantity(text); err == nil {
			return q.String()
		}
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		add, _ := s["additionalProperties"].(map[string]any)
		for k, child := range x {
			if p, ok := props[k].(map[string]any); ok {
				x[k] = canonicalQuantities(p, child)
			} else if add != nil {
				x[k] = canonicalQuantities(add, child)
			}
		}
	case []any:
		items, _ := s["items"].(map[string]any)
		for i, child := range x {
			x[i] = canonicalQuantities(items, child)
		}
	}
	return v
}
