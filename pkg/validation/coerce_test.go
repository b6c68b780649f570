package validation

import (
	"testing"
)

// A typed kind's quantities are checked as the schema gives them, before the Go type would
// canonicalize them: the pattern refuses what ParseQuantity would take as 0, and a number is an
// integer only as the schema validator sees one (a float within ±2^53), so numbers beyond int64
// are refused instead of stored rounded.
func TestQuantitiesAreCheckedAsWritten(t *testing.T) {
	disk := mustSchema(t, "VMDisk")
	for _, c := range []struct {
		value any
		ok    bool
	}{
		{"20Gi", true},
		{"1e3", true},
		{int64(5), true},
		{float64(1000), true},
		{"Gi", false},
		{"+", false},
		{"m", false},
		{"", false},
		{float64(-9223372036854775808), false}, // what -9223372036854775809 decodes to
		{float64(9223372036854775808), false},
		{float64(1e18), false},
		{2.5, false},
	} {
		obj := map[string]any{"spec": map[string]any{"source": map[string]any{"upload": map[string]any{}}, "storage": c.value}}
		errs := disk.Coerce(obj)
		if got := len(errs) == 0; got != c.ok {
			t.Errorf("storage %#v: accepted %v, want %v (%v)", c.value, got, c.ok, errs)
		}
		if !c.ok && !errorsContain(errs, "spec.storage") {
			t.Errorf("storage %#v: errors do not name spec.storage: %v", c.value, errs)
		}
	}
}
