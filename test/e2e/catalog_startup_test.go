package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
)

const applicationDefinitionCRD = "applicationdefinitions.cozystack.io"

// TestCatalogServerStartsWithoutTheCRD: a server starts and becomes ready on a cluster without the
// ApplicationDefinition CRD (serving its typed kinds), and serves the catalog once the CRD and a
// definition appear, without a restart.
func TestCatalogServerStartsWithoutTheCRD(t *testing.T) {
	ctx := context.Background()
	crds := cp.APIExtensions.ApiextensionsV1().CustomResourceDefinitions()
	if err := crds.Delete(ctx, applicationDefinitionCRD, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cp.InstallApplicationDefinitionCRD(context.Background()); err != nil {
			t.Errorf("reinstalling the CRD: %v", err)
		}
	})
	eventually(t, 30*time.Second, "the CRD gone", func(ctx context.Context) (bool, error) {
		_, err := crds.Get(ctx, applicationDefinitionCRD, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})

	client := startReplica(t, "no-catalog-crd")
	ns := newTenant(t)
	mustCreate(t, client.Resource(gvr("buckets")).Namespace(ns), bucketObject("typed-without-catalog"))

	if err := cp.InstallApplicationDefinitionCRD(ctx); err != nil {
		t.Fatal(err)
	}
	applyDefinition(t, renamedDefinition(t, "redis", "latecomer", "Latecomer", "latecomers", "latecomer-"))
	for name, c := range map[string]dynamic.Interface{"the replica started without the CRD": client, "the server that saw the CRD go": cp.Dynamic} {
		eventually(t, 60*time.Second, "latecomers served by "+name, func(ctx context.Context) (bool, error) {
			_, err := c.Resource(gvr("latecomers")).Namespace(ns).List(ctx, metav1.ListOptions{})
			return err == nil, fmt.Errorf("%s: %v", name, err)
		})
	}
}

// TestCatalogReplicaIsReadyWithTheKindsServed: a replica started while definitions exist is ready
// only once it serves their kinds, so a rolled-in replica answers like the others from its first
// request (no polling here: StartReplica returns when the replica is ready).
func TestCatalogReplicaIsReadyWithTheKindsServed(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	applyDefinition(t, renamedDefinition(t, "redis", "early", "Early", "earlies", "early-"))
	awaitServed(t, cp.Dynamic, "earlies", ns)
	replica := startReplica(t, "rolled-in")
	if _, err := replica.Resource(gvr("earlies")).Namespace(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("a ready replica does not serve a kind defined before it started: %v", err)
	}
}
