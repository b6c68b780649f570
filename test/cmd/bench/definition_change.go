package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
)

// definitionChangeRounds is how many times the seeded kind's definition changes.
const definitionChangeRounds = 5

// definitionChanged measures how soon a seeded kind's existing objects read as its changed
// definition says (a new field with a default, as custom resources read after their CRD changed),
// against listing that kind's HelmReleases straight from kube-apiserver: the server converts that
// kind's releases again, not every release. It needs a kind seeded from a definition (--kinds
// beyond the typed ones).
func (b *bench) definitionChanged(ctx context.Context) error {
	if len(b.kinds) <= len(typedKindCases) {
		return nil
	}
	kc := b.kinds[len(b.kinds)-1]
	definitions := b.cp.Dynamic.Resource(kinds.ApplicationDefinitionGVR)
	// took is until one object reads anew, all until a list shows every object so.
	var took, all, direct []float64
	var objects int
	_, ns, name := b.object(len(b.kinds) - 1)
	for round := range definitionChangeRounds {
		def, err := definitions.Get(ctx, kc.resource, metav1.GetOptions{})
		if err != nil {
			return err
		}
		marker := fmt.Sprintf("round-%d", round)
		if err := setDefaultedField(def, "benchMarker", marker); err != nil {
			return err
		}
		start := time.Now()
		if _, err := definitions.Update(ctx, def, metav1.UpdateOptions{}); err != nil {
			return err
		}
		// One object until it reads anew (cheap to ask often), then the whole kind.
		if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
			obj, err := b.cozy(kc).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			got, _, _ := unstructured.NestedString(obj.Object, "spec", "benchMarker")
			return got == marker, nil
		}); err != nil {
			return fmt.Errorf("%s/%s did not read as its changed definition says: %w", ns, name, err)
		}
		took = append(took, float64(time.Since(start).Milliseconds()))
		if err := wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
			list, err := b.cozy(kc).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			objects = len(list.Items)
			for _, item := range list.Items {
				if got, _, _ := unstructured.NestedString(item.Object, "spec", "benchMarker"); got != marker {
					return false, nil
				}
			}
			return true, nil
		}); err != nil {
			return fmt.Errorf("%s's objects did not all read as its changed definition says: %w", kc.resource, err)
		}
		all = append(all, float64(time.Since(start).Milliseconds()))
		start = time.Now()
		if _, err := b.direct().List(ctx, metav1.ListOptions{LabelSelector: kc.releaseSelector()}); err != nil {
			return err
		}
		direct = append(direct, float64(time.Since(start).Milliseconds()))
	}
	b.rep.add("definition changed → its objects read anew p50", "ms", percentile(took, 0.5), percentile(direct, 0.5),
		fmt.Sprintf("max %.0f ms over %d changes; a list shows all %d %s so after %.0f ms (p50); direct: listing the kind's HelmReleases", maxOf(took), len(took), objects, kc.resource, percentile(all, 0.5)))
	return nil
}

// setDefaultedField adds a string field with a default to a definition's spec schema.
func setDefaultedField(def *unstructured.Unstructured, field, value string) error {
	raw, _, _ := unstructured.NestedString(def.Object, "spec", "application", "openAPISchema")
	var schema map[string]any
	if err := json.Unmarshal([]byte(raw), &schema); err != nil {
		return fmt.Errorf("definition %s's schema: %w", def.GetName(), err)
	}
	properties, _ := schema["properties"].(map[string]any)
	if properties == nil {
		properties = map[string]any{}
		schema["properties"] = properties
	}
	properties[field] = map[string]any{"type": "string", "default": value}
	out, err := json.Marshal(schema)
	if err != nil {
		return err
	}
	return unstructured.SetNestedField(def.Object, string(out), "spec", "application", "openAPISchema")
}
