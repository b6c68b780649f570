package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/kubernetes/pkg/controller/clusterroleaggregation"
)

// DeployDir is artifacts/deploy of the checkout the framework was built from.
func DeployDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "artifacts", "deploy")
}

// applyManifests creates the namespaces, ServiceAccounts, RBAC objects and admission policies of
// shipped manifests, so the server runs with exactly the rights a deployment grants it.
func (cp *ControlPlane) applyManifests(ctx context.Context, files ...string) error {
	for _, file := range files {
		raw, err := os.ReadFile(filepath.Join(DeployDir(), file))
		if err != nil {
			return err
		}
		decoder := utilyaml.NewDocumentDecoder(io.NopCloser(bytes.NewReader(raw)))
		buf := make([]byte, len(raw)+1)
		for {
			n, err := decoder.Read(buf)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			doc := bytes.TrimSpace(buf[:n])
			if len(bytes.Trim(doc, "-\n ")) == 0 {
				continue
			}
			obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if err := cp.create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("%s: %w", file, err)
			}
		}
	}
	return nil
}

func (cp *ControlPlane) create(ctx context.Context, obj any) error {
	opts := metav1.CreateOptions{}
	var err error
	switch o := obj.(type) {
	case *corev1.Namespace:
		_, err = cp.Kube.CoreV1().Namespaces().Create(ctx, o, opts)
	case *corev1.ServiceAccount:
		_, err = cp.Kube.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, opts)
	case *rbacv1.ClusterRole:
		_, err = cp.Kube.RbacV1().ClusterRoles().Create(ctx, o, opts)
	case *rbacv1.ClusterRoleBinding:
		_, err = cp.Kube.RbacV1().ClusterRoleBindings().Create(ctx, o, opts)
	case *rbacv1.RoleBinding:
		_, err = cp.Kube.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, opts)
	case *admissionregistrationv1.ValidatingAdmissionPolicy:
		_, err = cp.Kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, o, opts)
	case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
		_, err = cp.Kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, o, opts)
	default:
		return fmt.Errorf("the framework does not apply %T", obj)
	}
	return err
}

// serverKubeconfig writes a kubeconfig for the server's ServiceAccount with a token from the
// TokenRequest API, as a Pod would mount it.
func (cp *ControlPlane) serverKubeconfig(ctx context.Context) (string, error) {
	expiry := int64((48 * time.Hour).Seconds())
	token, err := cp.Kube.CoreV1().ServiceAccounts(ServiceNamespace).CreateToken(ctx, ServiceName,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting the server's ServiceAccount token: %w", err)
	}
	cfg := rest.AnonymousClientConfig(cp.Config)
	cfg.BearerToken = token.Status.Token
	if cp.Upstream != nil {
		cfg.Host = "https://" + cp.Upstream.Addr()
	}
	path := filepath.Join(cp.StateDir, "cozy-apiserver.kubeconfig")
	return path, writeKubeconfig(path, cfg)
}

// startRoleAggregation runs kube-controller-manager's ClusterRole aggregation controller, which
// folds the shipped tenant roles into admin, edit and view, and waits until it has.
func (cp *ControlPlane) startRoleAggregation(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(cp.Kube, 0)
	controller := clusterroleaggregation.NewClusterRoleAggregation(factory.Rbac().V1().ClusterRoles(), cp.Kube.RbacV1())
	factory.Start(ctx.Done())
	go controller.Run(ctx, 1)
	return poll(ctx, 30*time.Second, "apps.cozy.io rules aggregated into admin and view", func(ctx context.Context) (bool, error) {
		for _, role := range []string{"admin", "view"} {
			cr, err := cp.Kube.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			found := false
			for _, rule := range cr.Rules {
				for _, g := range rule.APIGroups {
					found = found || g == "apps.cozy.io"
				}
			}
			if !found {
				return false, nil
			}
		}
		return true, nil
	})
}
