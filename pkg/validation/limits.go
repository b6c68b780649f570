package validation

import (
	"encoding/json"
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits bound everything a tenant can write into a spec, free-form parts included. They exist
// because every stored spec becomes HelmRelease values that kube-apiserver, Flux, kubectl and this
// server's own cache must decode, alone and inside lists of thousands: JSON decoders refuse
// nesting deeper than 10,000 levels for a whole document, so a value just under that limit in one
// object makes every list that contains it undecodable. The limits sit far below any decoder's
// limit and far above what a chart's values need.
type Limits struct {
	// MaxDepth is how many levels of maps and lists may nest below spec. A list of HelmReleases
	// adds about six levels above it (items, object, spec, values), so nothing stored with this
	// limit comes near a decoder's limit.
	MaxDepth int
	// MaxBytes bounds the spec's size as compact JSON. Helm stores every release revision, values
	// included, in a Secret of at most 1 MiB, and a list of thousands of releases must fit in
	// memory.
	MaxBytes int
	// MaxStringLength bounds every string value and map key, in bytes.
	MaxStringLength int
	// MaxProperties bounds the keys of every map.
	MaxProperties int
	// MaxItems bounds the items of every list.
	MaxItems int
}

// DefaultLimits are the limits the server enforces on every kind; README documents them.
var DefaultLimits = Limits{
	MaxDepth:        32,
	MaxBytes:        256 << 10,
	MaxStringLength: 64 << 10,
	MaxProperties:   1024,
	MaxItems:        1024,
}

// Check returns one error per value that exceeds a limit, with its field path. value is
// JSON-shaped data (maps, lists, strings, numbers, booleans, nil). Values nested deeper than
// MaxDepth are reported once, at the level where the limit is crossed, and not walked further.
func (l Limits) Check(path *field.Path, value any) field.ErrorList {
	errs := l.walk(path, value, 0)
	if len(errs) > 0 {
		return errs
	}
	// Only a value within the other limits is measured: it is bounded, so encoding it is cheap.
	raw, err := json.Marshal(value)
	if err != nil {
		return field.ErrorList{field.Invalid(path, "", fmt.Sprintf("cannot be encoded as JSON: %v", err))}
	}
	if len(raw) > l.MaxBytes {
		return field.ErrorList{field.TooLong(path, "", l.MaxBytes).WithOrigin("maxBytes")}
	}
	return nil
}

func (l Limits) walk(path *field.Path, value any, depth int) field.ErrorList {
	switch v := value.(type) {
	case map[string]any:
		if depth >= l.MaxDepth {
			return field.ErrorList{l.tooDeep(path)}
		}
		var errs field.ErrorList
		if len(v) > l.MaxProperties {
			errs = append(errs, field.TooMany(path, len(v), l.MaxProperties))
		}
		for key, child := range v {
			if len(key) > l.MaxStringLength {
				errs = append(errs, field.TooLong(path.Key(key[:32]+"..."), "", l.MaxStringLength).WithOrigin("maxKeyLength"))
				continue
			}
			errs = append(errs, l.walk(keyPath(path, key), child, depth+1)...)
			if len(errs) > maxReported {
				return errs
			}
		}
		return errs
	case []any:
		if depth >= l.MaxDepth {
			return field.ErrorList{l.tooDeep(path)}
		}
		var errs field.ErrorList
		if len(v) > l.MaxItems {
			errs = append(errs, field.TooMany(path, len(v), l.MaxItems))
		}
		for i, child := range v {
			errs = append(errs, l.walk(path.Index(i), child, depth+1)...)
			if len(errs) > maxReported {
				return errs
			}
		}
		return errs
	case string:
		if len(v) > l.MaxStringLength {
			return field.ErrorList{field.TooLong(path, "", l.MaxStringLength)}
		}
	}
	return nil
}

// keyPath writes identifier-like keys as .key and others as [key], so paths of declared fields
// read as everywhere else (spec.addons.certManager) and odd keys stay unambiguous.
func keyPath(path *field.Path, key string) *field.Path {
	if identifier.MatchString(key) {
		return path.Child(key)
	}
	return path.Key(key)
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (l Limits) tooDeep(path *field.Path) *field.Error {
	return field.Invalid(path, "", fmt.Sprintf("must not nest maps and lists more than %d levels below spec", l.MaxDepth)).WithOrigin("maxDepth")
}

// maxReported stops a walk over a hostile value early: a client learns enough from a hundred
// errors, and building a million would cost the server.
const maxReported = 100
