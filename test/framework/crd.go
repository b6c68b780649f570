package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// HelmControllerModule is the Flux release whose HelmRelease CRD the tests install.
const HelmControllerModule = "github.com/fluxcd/helm-controller@v1.4.0"

// helmReleaseCRDPath finds Flux's own CRD manifest: $HELMRELEASE_CRD if set, else the file in the
// helm-controller module, downloaded through the Go module proxy like any dependency.
func helmReleaseCRDPath() (string, error) {
	if path := os.Getenv("HELMRELEASE_CRD"); path != "" {
		return path, nil
	}
	out, err := exec.Command("go", "mod", "download", "-json", HelmControllerModule).Output()
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", HelmControllerModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("locating %s: %v", HelmControllerModule, err)
	}
	return filepath.Join(mod.Dir, "config", "crd", "bases", "helm.toolkit.fluxcd.io_helmreleases.yaml"), nil
}

// installHelmReleaseCRD installs Flux's HelmRelease CRD and waits until it is served.
func installHelmReleaseCRD(ctx context.Context, client apiextensionsclient.Interface) error {
	path, err := helmReleaseCRDPath()
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	crds := client.ApiextensionsV1().CustomResourceDefinitions()
	if _, err := crds.Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating HelmRelease CRD: %w", err)
	}
	return WaitEstablished(ctx, client, crd.Name)
}

// WaitEstablished waits until kube-apiserver serves the CRD called name.
func WaitEstablished(ctx context.Context, client apiextensionsclient.Interface, name string) error {
	crds := client.ApiextensionsV1().CustomResourceDefinitions()
	return poll(ctx, 30*time.Second, "CRD "+name+" Established", func(ctx context.Context) (bool, error) {
		got, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}
