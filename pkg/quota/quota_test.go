package quota

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Each resource given is counted as count/<resource>.<group>, and nothing else is.
func TestConfigurationCountsEachResource(t *testing.T) {
	buckets := schema.GroupResource{Group: "apps.cozy.io", Resource: "buckets"}
	config := Configuration([]schema.GroupResource{buckets})
	evaluators := config.Evaluators()
	if len(evaluators) != 1 || evaluators[0].GroupResource() != buckets {
		t.Fatalf("evaluators: %v", evaluators)
	}
	names := evaluators[0].MatchingResources([]corev1.ResourceName{"count/buckets.apps.cozy.io", "count/vmdisks.apps.cozy.io", "cpu"})
	if len(names) != 1 || names[0] != "count/buckets.apps.cozy.io" {
		t.Errorf("matching resources: %v", names)
	}
}
