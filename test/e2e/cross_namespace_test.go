package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

// A list or watch across namespaces (kubectl get -A) is served to any authenticated user and
// shows exactly the namespaces where that user may make it — never another tenant's object,
// whatever the selectors, resourceVersions, paging or WatchList, and a RoleBinding added or
// removed while a watch is open turns into ADDED and DELETED events. kube-apiserver answers a CRD
// 403 here (a deliberate difference, README).
func TestListsAcrossNamespacesShowOnlyTheUsersNamespaces(t *testing.T) {
	ctx := context.Background()
	bucket := targets()[0]
	aliceA, aliceB, bobs := newTenant(t), newTenant(t), newTenant(t)
	bindRole(t, aliceA, "admin", "alice")
	bindRole(t, aliceB, "view", "alice")
	bindRole(t, bobs, "admin", "bob")
	admin := cp.Dynamic.Resource(bucket.resource)
	before, err := admin.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	red := func(name string) *unstructured.Unstructured {
		obj := bucket.object(name)
		obj.SetLabels(map[string]string{"team": "red"})
		return obj
	}
	mustCreate(t, admin.Namespace(aliceA), red("x"))
	mustCreate(t, admin.Namespace(aliceB), bucket.object("y"))
	mustCreate(t, admin.Namespace(bobs), red("z"))
	mustCreate(t, admin.Namespace(bobs), bucket.object("w"))
	alice := as(t, "alice").Resource(bucket.resource)
	mine := sorted(aliceA+"/x", aliceB+"/y")
	list := func(opts metav1.ListOptions) (*unstructured.UnstructuredList, []string) {
		t.Helper()
		got, err := alice.List(ctx, opts)
		if err != nil {
			t.Fatalf("alice's list across namespaces %+v: %v", opts, err)
		}
		return got, keysOf(got.Items)
	}
	eventually(t, 30*time.Second, "alice sees her two namespaces", func(context.Context) (bool, error) {
		_, got := list(metav1.ListOptions{})
		return fmt.Sprint(got) == fmt.Sprint(mine), nil
	})

	t.Run("selectors", func(t *testing.T) {
		for _, tc := range []struct {
			opts metav1.ListOptions
			want []string
		}{
			{metav1.ListOptions{LabelSelector: "team=red"}, []string{aliceA + "/x"}},
			{metav1.ListOptions{FieldSelector: "metadata.namespace=" + bobs}, nil},
			{metav1.ListOptions{FieldSelector: "metadata.name=z"}, nil},
			{metav1.ListOptions{FieldSelector: "metadata.name!=x"}, []string{aliceB + "/y"}},
			{metav1.ListOptions{ResourceVersion: "0"}, mine},
			{metav1.ListOptions{ResourceVersion: before.GetResourceVersion(), ResourceVersionMatch: metav1.ResourceVersionMatchExact}, nil},
		} {
			if _, got := list(tc.opts); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%+v: %v, want %v", tc.opts, got, tc.want)
			}
		}
	})

	t.Run("pages count only what the user sees", func(t *testing.T) {
		first, got := list(metav1.ListOptions{Limit: 1})
		if fmt.Sprint(got) != fmt.Sprint(mine[:1]) || first.GetContinue() == "" {
			t.Fatalf("first page: %v continue %q", got, first.GetContinue())
		}
		if n := first.GetRemainingItemCount(); n == nil || *n != 1 {
			t.Errorf("remainingItemCount %v, want 1: it must not count other tenants' objects", n)
		}
		second, got := list(metav1.ListOptions{Limit: 1, Continue: first.GetContinue()})
		if fmt.Sprint(got) != fmt.Sprint(mine[1:]) || second.GetContinue() != "" {
			t.Errorf("second page: %v continue %q", got, second.GetContinue())
		}
	})

	t.Run("a user with no namespace gets an empty list", func(t *testing.T) {
		got, err := as(t, "carol").Resource(bucket.resource).List(ctx, metav1.ListOptions{})
		if err != nil || len(got.Items) != 0 {
			t.Fatalf("carol: %v items, err %v", keysOf(got.Items), err)
		}
	})

	t.Run("kubectl get -A", func(t *testing.T) {
		out, _ := kubectl(t, false, "get", "buckets.apps.cozy.io", "-A", "--as", "alice", "--as-group", "system:authenticated", "-o", "name")
		if strings.Count(out, "\n") != 2 || !strings.Contains(out, "/x\n") || !strings.Contains(out, "/y\n") {
			t.Errorf("kubectl get -A as alice:\n%s", out)
		}
	})

	// A watch replaying from before every create sees only alice's objects; a change in bob's
	// namespace never arrives, hers does.
	t.Run("replay from an old resourceVersion", func(t *testing.T) {
		w, err := alice.Watch(ctx, metav1.ListOptions{ResourceVersion: before.GetResourceVersion()})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		expectEvent(t, w, watch.Added, "x")
		expectEvent(t, w, watch.Added, "y")
		touch(t, bobs, "z")
		touch(t, aliceA, "x")
		expectEvent(t, w, watch.Modified, "x")
	})

	// WatchList, then bob's namespace granted to alice and taken away while the watch is open.
	t.Run("watchlist and a binding added and removed", func(t *testing.T) {
		w, err := alice.Watch(ctx, metav1.ListOptions{SendInitialEvents: ptr.To(true), AllowWatchBookmarks: true,
			ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		initial := collect(t, w, func(e watch.Event) bool {
			return e.Type == watch.Bookmark && e.Object.(*unstructured.Unstructured).GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true"
		})
		if fmt.Sprint(initial) != fmt.Sprint(sorted("ADDED "+aliceA+"/x", "ADDED "+aliceB+"/y")) {
			t.Fatalf("initial events: %v", initial)
		}
		bindRole(t, bobs, "view", "alice")
		granted := collect(t, w, func(watch.Event) bool { return false }, 2)
		if fmt.Sprint(granted) != fmt.Sprint([]string{"ADDED " + bobs + "/w", "ADDED " + bobs + "/z"}) {
			t.Fatalf("after the RoleBinding: %v", granted)
		}
		if err := cp.Kube.RbacV1().RoleBindings(bobs).Delete(ctx, "alice-view", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		revoked := collect(t, w, func(watch.Event) bool { return false }, 2)
		if fmt.Sprint(revoked) != fmt.Sprint([]string{"DELETED " + bobs + "/w", "DELETED " + bobs + "/z"}) {
			t.Fatalf("after removing the RoleBinding: %v", revoked)
		}
		touch(t, bobs, "z")
		touch(t, aliceB, "y")
		if next := collect(t, w, func(watch.Event) bool { return false }, 1); fmt.Sprint(next) != fmt.Sprint([]string{"MODIFIED " + aliceB + "/y"}) {
			t.Fatalf("after revoking, bob's change must not arrive: %v", next)
		}
	})
}

// touch changes an object's labels, a visible change.
func touch(t *testing.T, ns, name string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"labels":{"touched":"%d"}}}`, time.Now().UnixNano())
	if _, err := cp.Dynamic.Resource(targets()[0].resource).Namespace(ns).Patch(context.Background(), name, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// collect reads events ("TYPE namespace/name", bookmarks skipped and checked to carry no object)
// until end says so or n object events arrived (n optional), each within 30 s; object events that
// arrive together are sorted, so the order among them does not matter.
func collect(t *testing.T, w watch.Interface, end func(watch.Event) bool, n ...int) []string {
	t.Helper()
	var out []string
	for {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %v", out)
			}
			obj, _ := e.Object.(*unstructured.Unstructured)
			if obj == nil {
				t.Fatalf("unexpected %s %v after %v", e.Type, e.Object, out)
			}
			if end(e) {
				sort.Strings(out)
				return out
			}
			if e.Type == watch.Bookmark {
				if obj.GetName() != "" || obj.GetNamespace() != "" {
					t.Fatalf("a bookmark carries an object: %v", obj)
				}
				continue
			}
			out = append(out, string(e.Type)+" "+obj.GetNamespace()+"/"+obj.GetName())
			if len(n) > 0 && len(out) == n[0] {
				sort.Strings(out)
				return out
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("watch: nothing more within 30s after %v", out)
		}
	}
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

func keysOf(items []unstructured.Unstructured) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.GetNamespace()+"/"+it.GetName())
	}
	sort.Strings(out)
	return out
}
