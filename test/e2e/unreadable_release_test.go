package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cozystack/apps-apiserver/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// TestUnreadableReleaseStaysVisible seeds a release whose values do not fit the kind (as another
// tool might write one) and checks that it is listed, readable and deletable, with a condition
// saying why, that updates are refused rather than replacing values nobody can see, and that other
// objects are served as before.
func TestUnreadableReleaseStaysVisible(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	c := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	mustCreate(t, c, bucketObject("healthy"))
	seedRelease(t, "Bucket", ns, "broken", map[string]any{"users": "everyone", "storagePool": "x"})
	eventually(t, 5*time.Second, "the unreadable object is listed", func(ctx context.Context) (bool, error) {
		list, err := c.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(list.Items) == 2, nil
	})
	got, err := c.Get(ctx, "broken", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("GET of the unreadable object: %v", err)
	}
	conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
	var reason, message string
	for _, cond := range conditions {
		if m := cond.(map[string]any); m["type"] == "Ready" {
			reason, _ = m["reason"].(string)
			message, _ = m["message"].(string)
		}
	}
	if reason != release.ReasonUnreadableValues || !strings.Contains(message, "users") {
		t.Errorf("Ready condition: reason %q message %q", reason, message)
	}
	if _, err := c.Patch(ctx, "broken", types.MergePatchType, []byte(`{"metadata":{"labels":{"a":"b"}}}`), metav1.PatchOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update of an unreadable object: want 409, got %v", err)
	}
	if _, err := c.Get(ctx, "healthy", metav1.GetOptions{}); err != nil {
		t.Errorf("other objects must be served: %v", err)
	}
	if err := c.Delete(ctx, "broken", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete of the unreadable object: %v", err)
	}
	if _, err := helmRelease(ctx, ns, "bucket-broken"); !apierrors.IsNotFound(err) {
		t.Errorf("the release must be gone after the delete: %v", err)
	}
}

// TestUndecodableReleaseFromAnotherWriter: a HelmRelease nested almost as deep as kube-apiserver
// accepts, written by someone else (an admin, the incumbent API), makes any plain list that
// contains it undecodable. The server keeps serving and watching every object, that one included
// (it loads releases as a watch-list, one event per release), a server started afterwards becomes
// ready, and the tenant can delete the object.
func TestUndecodableReleaseFromAnotherWriter(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	b := startBystander(t)
	defer b.finish(t)
	buckets := cp.Dynamic.Resource(gvr("buckets")).Namespace(ns)
	mustCreate(t, buckets, bucketObject("healthy"))

	k := kindByName(t, "Bucket")
	hr := k.NewRelease(ns, "deep")
	hr.SetLabels(map[string]string{release.LabelApplicationKind: k.ApplicationKind, release.LabelApplicationName: "deep"})
	body, err := json.Marshal(hr.Object)
	if err != nil {
		t.Fatal(err)
	}
	// spec.values.users.deep nests 9,980 levels: accepted alone, undecodable inside a list.
	deep := `{"spec":{"interval":"5m","chart":{"spec":{"chart":"bucket","sourceRef":{"kind":"HelmRepository","name":"x"}}},"values":{"users":{"deep":` + deepJSON(9980) + `}}}}`
	merged := strings.TrimSuffix(string(body), "}") + "," + strings.TrimPrefix(deep, "{")
	code := 0
	err = cp.Kube.Discovery().RESTClient().Post().AbsPath("/apis/helm.toolkit.fluxcd.io/v2/namespaces/"+ns+"/helmreleases").
		SetHeader("Content-Type", "application/json").Body([]byte(merged)).Do(ctx).StatusCode(&code).Error()
	if err != nil {
		t.Fatalf("seeding the deep release as an admin: %d %v", code, err)
	}

	eventually(t, 10*time.Second, "the deep object is listed as unreadable next to the healthy one", func(ctx context.Context) (bool, error) {
		list, err := buckets.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(list.Items) == 2, nil
	})
	if _, err := buckets.Get(ctx, "deep", metav1.GetOptions{}); err != nil {
		t.Fatalf("GET of the deep object: %v", err)
	}
	// A server starting now loads a list with the release in it and must become ready.
	replica, err := cp.StartReplica(ctx, "after-deep")
	if err != nil {
		t.Fatalf("a server started after the deep release: %v", err)
	}
	defer replica.Stop()
	cfg, err := cp.ReplicaConfig(replica, "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the new server lists both objects", func(ctx context.Context) (bool, error) {
		list, err := fresh.Resource(gvr("buckets")).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(list.Items) == 2, nil
	})
	w, err := buckets.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	mustCreate(t, buckets, bucketObject("after"))
	eventually(t, 5*time.Second, "watches keep delivering", func(ctx context.Context) (bool, error) {
		for {
			select {
			case e := <-w.ResultChan():
				if name, _ := metaName(e.Object); name == "after" {
					return true, nil
				}
			default:
				return false, nil
			}
		}
	})
	if err := buckets.Delete(ctx, "deep", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete of the deep object: %v", err)
	}
}
