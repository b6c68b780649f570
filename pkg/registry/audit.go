package registry

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// Operations recorded on a HelmRelease, so operators can tell who last changed an application even
// though every HelmRelease is written with the server's identity.
const (
	operationCreate = "Create"
	operationUpdate = "Update"
	operationDelete = "Delete"
)

// recordActor writes who asked for the operation into the HelmRelease's reserved annotations.
func recordActor(ctx context.Context, hr *unstructured.Unstructured, operation string) {
	annotations := hr.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[release.AnnotationLastModifiedBy] = actor(ctx)
	annotations[release.AnnotationLastOperation] = operation
	hr.SetAnnotations(annotations)
}

func actor(ctx context.Context) string {
	if u, ok := genericapirequest.UserFrom(ctx); ok && u.GetName() != "" {
		return u.GetName()
	}
	return "system:anonymous"
}

// actorPatch is a JSON patch that records the actor of a deletion on the release it is about to
// delete, conditional on it still being the same release, and with pinned on it still being at
// the same resourceVersion.
func actorPatch(ctx context.Context, hr *unstructured.Unstructured, pinned bool) ([]byte, error) {
	annotations := map[string]string{}
	for k, v := range hr.GetAnnotations() {
		annotations[k] = v
	}
	annotations[release.AnnotationLastModifiedBy] = actor(ctx)
	annotations[release.AnnotationLastOperation] = operationDelete
	ops := []patchOp{{Op: "test", Path: "/metadata/uid", Value: hr.GetUID()}}
	if pinned {
		ops = append(ops, patchOp{Op: "test", Path: "/metadata/resourceVersion", Value: hr.GetResourceVersion()})
	}
	raw, err := json.Marshal(append(ops, patchOp{Op: "add", Path: "/metadata/annotations", Value: annotations}))
	if err != nil {
		return nil, fmt.Errorf("building the deletion record: %w", err)
	}
	return raw, nil
}

// ownedContentEqual reports whether two versions of a release agree on everything the server
// writes except the actor record, i.e. whether writing desired over current would be a no-op.
func ownedContentEqual(current, desired *unstructured.Unstructured) bool {
	actor := []string{release.AnnotationLastModifiedBy, release.AnnotationLastOperation}
	return ownedContent(current, true, actor...) == ownedContent(desired, true, actor...)
}
