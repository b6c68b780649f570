package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/dynamic"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/test/framework"
)

// definition reads artifacts/catalog/<name>.yaml.
func definition(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	def, err := framework.Definition(name)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// definedKind is the kind the definition describes, as the server builds it.
func definedKind(t *testing.T, def *unstructured.Unstructured) *kinds.Defined {
	t.Helper()
	decoded, err := kinds.DecodeApplicationDefinition(def)
	if err != nil {
		t.Fatal(err)
	}
	d, err := kinds.FromDefinition(decoded)
	if err != nil {
		t.Fatalf("definition %s: %v", def.GetName(), err)
	}
	return d
}

// applyDefinition creates or replaces a definition and removes it when the test ends.
func applyDefinition(t *testing.T, def *unstructured.Unstructured) {
	t.Helper()
	if _, err := cp.ApplyDefinition(context.Background(), def); err != nil {
		t.Fatalf("applying definition %s: %v", def.GetName(), err)
	}
	t.Cleanup(func() { deleteDefinition(t, def.GetName()) })
}

// deleteDefinition deletes a definition and waits until the server no longer serves its kind and
// kube-apiserver's aggregated discovery no longer lists it, so that no later test (kubectl get
// cozy, or a definition of the same name) meets a kind on its way out.
func deleteDefinition(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	definitions := cp.Dynamic.Resource(kinds.ApplicationDefinitionGVR)
	current, err := definitions.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		t.Errorf("reading definition %s: %v", name, err)
		return
	}
	plural, _, _ := unstructured.NestedString(current.Object, "spec", "application", "plural")
	if err := definitions.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting definition %s: %v", name, err)
		return
	}
	for _, k := range kinds.All() {
		if k.Resource == plural {
			return // a typed kind's resource stays
		}
	}
	// The server first: a kind added and deleted within the aggregator's refresh may never have
	// been in its discovery, and a later test re-creating the definition must not find the old
	// kind still served.
	awaitGone(t, cp.Dynamic, plural, metav1.NamespaceDefault)
	eventually(t, 20*time.Second, plural+" gone from discovery", func(ctx context.Context) (bool, error) {
		// kube-apiserver's aggregated discovery (what kubectl reads), not the group's own list
		// the aggregator proxies to the server.
		_, lists, err := cp.Kube.Discovery().ServerGroupsAndResources()
		if err != nil {
			return false, err
		}
		for _, list := range lists {
			if list.GroupVersion != "apps.cozy.io/v1alpha1" {
				continue
			}
			for _, r := range list.APIResources {
				if r.Name == plural {
					return false, fmt.Errorf("still listed")
				}
			}
		}
		return true, nil
	})
}

// renamedDefinition is a copy of a catalog definition under other names, so a test owns its kind.
func renamedDefinition(t *testing.T, from, name, kind, plural, prefix string) *unstructured.Unstructured {
	t.Helper()
	def := definition(t, from)
	def.SetName(name)
	for field, value := range map[string]string{"kind": kind, "plural": plural, "singular": plural[:len(plural)-1]} {
		if err := unstructured.SetNestedField(def.Object, value, "spec", "application", field); err != nil {
			t.Fatal(err)
		}
	}
	if err := unstructured.SetNestedField(def.Object, prefix, "spec", "release", "prefix"); err != nil {
		t.Fatal(err)
	}
	return def
}

// awaitServed waits until every server behind the APIService serves the resource in ns.
func awaitServed(t *testing.T, client dynamic.Interface, resource, ns string) {
	t.Helper()
	eventually(t, 20*time.Second, resource+" served", func(ctx context.Context) (bool, error) {
		_, err := client.Resource(gvr(resource)).Namespace(ns).List(ctx, metav1.ListOptions{})
		return err == nil, err
	})
}

// listedObject is the named object as a list of its namespace shows it (served from the server's
// cache, where a GET may read the release itself); an empty object and an error when it is not
// listed.
func listedObject(ctx context.Context, client dynamic.Interface, resource, ns, name string) (*unstructured.Unstructured, error) {
	list, err := client.Resource(gvr(resource)).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return &unstructured.Unstructured{}, err
	}
	for i := range list.Items {
		if list.Items[i].GetName() == name {
			return &list.Items[i], nil
		}
	}
	return &unstructured.Unstructured{}, fmt.Errorf("%s %s/%s not listed", resource, ns, name)
}

// awaitGone waits until the resource is not served any more (404).
func awaitGone(t *testing.T, client dynamic.Interface, resource, ns string) {
	t.Helper()
	eventually(t, 20*time.Second, resource+" no longer served", func(ctx context.Context) (bool, error) {
		_, err := client.Resource(gvr(resource)).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			return false, fmt.Errorf("still served")
		}
		return apierrors.IsNotFound(err), err
	})
}

// awaitDefinitionEvent waits for an Event with the reason on the definition and returns its message.
func awaitDefinitionEvent(t *testing.T, name, reason string) string {
	t.Helper()
	return awaitDefinitionEventSaying(t, name, reason, "")
}

// awaitDefinitionEventSaying waits for an Event with the reason on the definition whose message
// contains text, and returns its message.
func awaitDefinitionEventSaying(t *testing.T, name, reason, text string) string {
	t.Helper()
	var message string
	eventually(t, 20*time.Second, "event "+reason+" on definition "+name, func(ctx context.Context) (bool, error) {
		events, err := cp.Kube.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
			FieldSelector: fields.Set{"involvedObject.name": name, "involvedObject.kind": kinds.ApplicationDefinitionKind}.String(),
		})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == reason && strings.Contains(e.Message, text) {
				message = e.Message
				return true, nil
			}
		}
		return false, fmt.Errorf("events: %v", eventReasons(events.Items))
	})
	return message
}

func eventReasons(events []corev1.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out
}

// startReplica starts another server replica, stopped when the test ends, and returns a client
// that talks to it directly as a cluster admin; the replica is ready (serving the definitions
// that exist) when it returns.
func startReplica(t *testing.T, name string) dynamic.Interface {
	t.Helper()
	replica, err := cp.StartReplica(context.Background(), name)
	if err != nil {
		t.Fatalf("starting replica %s: %v", name, err)
	}
	t.Cleanup(replica.Stop)
	cfg, err := cp.ReplicaConfig(replica, "admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	return dynamic.NewForConfigOrDie(cfg)
}
