package validation

import (
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	kjson "sigs.k8s.io/json"
)

func nested(levels int) string {
	return strings.Repeat(`{"a":`, levels) + "1" + strings.Repeat("}", levels)
}

// What the early check reports for a merge patch is what validation reports for the patched
// object: the same errors at the same paths; within the limit, nothing.
func TestMergePatchDepthAsValidationSeesIt(t *testing.T) {
	k := mustSchema(t, "Kubernetes")
	current := []byte(`{"spec":{"addons":{"certManager":{"enabled":true}}}}`)
	for _, levels := range []int{1, 20, 40, 1000} {
		patch := []byte(`{"spec":{"addons":{"certManager":{"valuesOverride":` + nested(levels) + `}}}}`)
		early := k.CheckMergePatchDepth(patch)
		patched, err := jsonpatch.MergePatch(current, patch)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := kjson.UnmarshalCaseSensitivePreserveInts(patched, &obj); err != nil {
			t.Fatal(err)
		}
		late := k.CheckLimits(obj)
		if early.ToAggregate() == nil != (late.ToAggregate() == nil) || (early != nil && early.ToAggregate().Error() != late.ToAggregate().Error()) {
			t.Errorf("%d levels: early %v, validation %v", levels, early, late)
		}
		if levels <= 20 && len(early) != 0 {
			t.Errorf("%d levels refused: %v", levels, early)
		}
		if levels >= 40 && !errorsContain(early, "spec.addons.certManager.valuesOverride.a", "more than 32 levels") {
			t.Errorf("%d levels: %v", levels, early)
		}
	}
	for _, body := range []string{`[`, `{"spec":"x"}`, `{"metadata":{}}`, `null`} {
		if errs := k.CheckMergePatchDepth([]byte(body)); len(errs) != 0 {
			t.Errorf("%s: %v", body, errs)
		}
	}
}

// The byte scan counts nesting as JSON does, brackets in strings aside.
func TestNesting(t *testing.T) {
	for body, want := range map[string]int{
		`{}`: 1, `{"a":[{"b":1}]}`: 3, `{"a":"{[{["}`: 1, `{"a":"\"","b":{"c":"]"}}`: 2, `{"a":"\\","b":{"c":1}}`: 2, nested(40): 40, ``: 0,
	} {
		if got := nesting([]byte(body)); got != want {
			t.Errorf("nesting(%s) = %d, want %d", body, got, want)
		}
	}
}
