package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cozystack/apps-apiserver/pkg/appobjects"
)

// TestApplicationsOwnObjects: every kind serves the Secrets, Services and Ingresses its definition
// selects for an object (include minus exclude, names from the object's name, in its namespace,
// never another release's), as subresources: secrets for edit and admin only and never cached,
// services and ingresses for view too. Read with the server's identity: the tenant needs no
// Secret or Service rights.
func TestApplicationsOwnObjects(t *testing.T) {
	ctx := context.Background()
	dumpFluxLogOnFailure(t)
	applyDefinition(t, definition(t, "postgres"))
	ns, elsewhere := newTenant(t), newTenant(t)
	admin, viewer := "owner-"+ns, "viewer-"+ns
	bindRole(t, ns, "admin", admin)
	bindRole(t, ns, "view", viewer)
	awaitServed(t, cp.Dynamic, "postgreses", ns)

	// Two databases Flux installs: each gets its credentials Secret and read-write Service.
	for _, name := range []string{"db", "other"} {
		obj := gadgetOf("Postgres", name, map[string]any{"users": map[string]any{"app": map[string]any{"password": "s3cret-" + name}}})
		obj.SetLabels(map[string]string{fluxLabel: "true"})
		mustCreate(t, cp.Dynamic.Resource(gvr("postgreses")).Namespace(ns), obj)
	}
	// The tenant's CA, selected by label; the same label elsewhere and on another release's Secret.
	secrets := func(namespace string) func(name string, labels, annotations map[string]string) {
		return func(name string, labels, annotations map[string]string) {
			if _, err := cp.Kube.CoreV1().Secrets(namespace).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
				Name: name, Labels: labels, Annotations: annotations}, StringData: map[string]string{"ca.crt": "x"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	ca := map[string]string{"internal.cozystack.io/tenant-ca": "true"}
	secrets(ns)("tenant-ca", ca, nil)
	secrets(ns)("other-ca", ca, map[string]string{appobjects.HelmReleaseAnnotation: "postgres-other"})
	secrets(elsewhere)("tenant-ca", ca, nil)

	path := func(name, sub string) string { return appsPath(ns, "postgreses", name, sub) }
	names := func(body string) []string {
		var list unstructured.UnstructuredList
		if err := list.UnmarshalJSON([]byte(body)); err != nil {
			t.Fatalf("not a list: %v: %s", err, body)
		}
		var out []string
		for _, item := range list.Items {
			out = append(out, item.GetName())
		}
		return out
	}
	eventually(t, 90*time.Second, "Flux installed both databases' Secrets and Services", func(ctx context.Context) (bool, error) {
		code, body, _ := rawAs(t, admin, http.MethodGet, path("db", "secrets"))
		if code != http.StatusOK {
			return false, fmt.Errorf("%d %s", code, body)
		}
		got := names(body)
		for _, app := range []string{"db", "other"} {
			code, body, _ := rawAs(t, admin, http.MethodGet, path(app, "services"))
			if code != http.StatusOK || !slices.Equal(names(body), []string{"postgres-" + app + "-rw"}) {
				return false, fmt.Errorf("%s's services %d %s", app, code, body)
			}
		}
		return slices.Contains(got, "postgres-db-credentials"), fmt.Errorf("db's secrets %v", got)
	})

	code, body, header := rawAs(t, admin, http.MethodGet, path("db", "secrets"))
	if got := names(body); code != http.StatusOK || !slices.Equal(got, []string{"postgres-db-credentials", "tenant-ca"}) {
		t.Errorf("the admin reads secrets %d %v, want db's credentials and the tenant's CA", code, got)
	}
	if cc := header.Values("Cache-Control"); !strings.Contains(strings.Join(cc, ","), "no-store") {
		t.Errorf("secrets may be cached: Cache-Control %v", cc)
	}
	var list corev1.SecretList
	if err := json.Unmarshal([]byte(body), &list); err != nil || list.Kind != "SecretList" || string(list.Items[0].Data["app"]) != "s3cret-db" {
		t.Errorf("not db's credentials as a v1 SecretList: %v %s", err, body)
	}

	// The viewer reads services and ingresses, never secrets.
	if code, body, _ := rawAs(t, viewer, http.MethodGet, path("db", "secrets")); code != http.StatusForbidden {
		t.Errorf("the viewer reads secrets: %d %s", code, body)
	}
	eventually(t, 20*time.Second, "the viewer reads services", func(ctx context.Context) (bool, error) {
		code, body, _ := rawAs(t, viewer, http.MethodGet, path("db", "services"))
		return code == http.StatusOK, fmt.Errorf("%d %s", code, body)
	})
	if code, body, _ := rawAs(t, viewer, http.MethodGet, path("db", "ingresses")); code != http.StatusOK || len(names(body)) != 0 {
		t.Errorf("the viewer reads ingresses: %d %s", code, body)
	}

	// Read only; an object that does not exist has no objects.
	if code, _, _ := rawBodyAs(t, admin, http.MethodPut, path("db", "secrets"), "{}"); code != http.StatusMethodNotAllowed {
		t.Errorf("PUT secrets: %d", code)
	}
	if code, _, _ := rawAs(t, admin, http.MethodGet, path("missing", "secrets")); code != http.StatusNotFound {
		t.Errorf("secrets of a missing object: %d", code)
	}
}

// TestTypedKindsOwnObjectsFollowTheirDefinition: a typed kind's own objects are what its
// definition selects, as it is now: none without one, its selection once it is applied, none
// again once it is deleted.
func TestTypedKindsOwnObjectsFollowTheirDefinition(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	mustCreate(t, cp.Dynamic.Resource(gvr("buckets")).Namespace(ns), bucketObject("b"))
	if _, err := cp.Kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bucket-b-credentials"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secrets := func(want int) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			code, body, _ := rawAs(t, "", http.MethodGet, appsPath(ns, "buckets", "b", "secrets"))
			var list unstructured.UnstructuredList
			if code != http.StatusOK || list.UnmarshalJSON([]byte(body)) != nil {
				return false, fmt.Errorf("%d %s", code, body)
			}
			return len(list.Items) == want, fmt.Errorf("%d secrets", len(list.Items))
		}
	}
	eventually(t, 20*time.Second, "no secrets without a definition", secrets(0))
	def := definition(t, "bucket")
	applyDefinition(t, def)
	eventually(t, 20*time.Second, "the definition's selection", secrets(1))
	deleteDefinition(t, def.GetName())
	eventually(t, 20*time.Second, "no secrets once the definition is gone", secrets(0))
}

// TestOwnObjectsOfHostileDefinitions: a definition cannot reach another application's objects: a
// kind whose name template renders another kind's Secret name gets nothing installed by that
// kind's release, and selectors that could select beyond the application (no name placeholder,
// template code, an empty selector) are not used and are named in the definition's Event.
func TestOwnObjectsOfHostileDefinitions(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	snoop := renamedDefinition(t, "redis", "snoop", "Snoop", "snoops", "snoop-")
	selection := map[string]any{"include": []any{
		map[string]any{"resourceNames": []any{"postgres-{{ .name }}-credentials"}},
		map[string]any{"resourceNames": []any{"{{ .namespace }}-ca"}},
		map[string]any{"resourceNames": []any{`{{ .name }}{{ printf "x" }}`}},
		map[string]any{},
	}}
	if err := unstructured.SetNestedField(snoop.Object, selection, "spec", "secrets"); err != nil {
		t.Fatal(err)
	}
	applyDefinition(t, snoop)
	message := awaitDefinitionEvent(t, "snoop", "Served")
	for _, want := range []string{"selectors of its own objects not used", `"{{ .namespace }}-ca" does not contain {{ .name }}`, "only {{ .name }}", "would select everything"} {
		if !strings.Contains(message, want) {
			t.Errorf("the Event does not say %q: %s", want, message)
		}
	}
	awaitServed(t, cp.Dynamic, "snoops", ns)

	// Postgres db's credentials, installed by its release (as Helm marks them), and a Secret of
	// the same name pattern nobody installed.
	for name, release := range map[string]string{"postgres-db-credentials": "postgres-db", "postgres-loose-credentials": ""} {
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: map[string]string{"password": "x"}}
		if release != "" {
			secret.Annotations = map[string]string{appobjects.HelmReleaseAnnotation: release}
		}
		if _, err := cp.Kube.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	snoops := cp.Dynamic.Resource(gvr("snoops")).Namespace(ns)
	mustCreate(t, snoops, gadgetOf("Snoop", "db", map[string]any{}))
	mustCreate(t, snoops, gadgetOf("Snoop", "loose", map[string]any{}))
	read := func(name string) []string {
		t.Helper()
		code, body, _ := rawAs(t, "", http.MethodGet, appsPath(ns, "snoops", name, "secrets"))
		if code != http.StatusOK {
			t.Fatalf("%s/secrets: %d %s", name, code, body)
		}
		var list unstructured.UnstructuredList
		if err := list.UnmarshalJSON([]byte(body)); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, item := range list.Items {
			out = append(out, item.GetName())
		}
		return out
	}
	if got := read("db"); len(got) != 0 {
		t.Errorf("a Snoop reads Postgres db's credentials: %v", got)
	}
	if got := read("loose"); !slices.Equal(got, []string{"postgres-loose-credentials"}) {
		t.Errorf("a Snoop's own selection (a Secret no release installed): %v", got)
	}
}
