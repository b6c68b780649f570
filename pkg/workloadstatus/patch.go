package workloadstatus

import (
	"encoding/json"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// mergePatch sets (or, with a nil value, removes) the workload-state annotation, conditional on
// the release still being at resourceVersion: a release that moved meanwhile answers 409 and is
// projected again from a fresh read.
func mergePatch(resourceVersion string, value any) ([]byte, error) {
	return json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": resourceVersion,
		"annotations":     map[string]any{release.AnnotationWorkloads: value},
	}})
}
