package framework

import (
	"context"
	"embed"
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

// Modules whose own CRD manifests the control plane installs, fetched through the Go module proxy
// like any dependency.
const (
	// HelmControllerModule is the Flux release whose HelmRelease CRD the tests install and whose
	// controller hack/build-helm-controller.sh builds.
	HelmControllerModule = "github.com/fluxcd/helm-controller@v1.4.0"
	// SourceControllerModule ships the ExternalArtifact CRD the releases' chartRef points at (and the
	// other source CRDs helm-controller watches).
	SourceControllerModule = "github.com/fluxcd/source-controller@v1.7.0"
	// ClusterAPIModule ships Cluster, MachineDeployment and MachineHealthCheck (v1beta1 served).
	ClusterAPIModule = "sigs.k8s.io/cluster-api@v1.10.4"
	// KubevirtClusterModule is Cluster API Provider KubeVirt, which ships KubevirtCluster.
	KubevirtClusterModule = "sigs.k8s.io/cluster-api-provider-kubevirt@v0.1.9"
	// COSIModule ships COSI's BucketClaim and BucketAccess.
	COSIModule = "sigs.k8s.io/container-object-storage-interface-api@v0.1.0"
)

// moduleCRD is a CRD manifest at path inside a Go module, with the annotations the module's own
// kustomization adds when it installs it.
type moduleCRD struct {
	module, path string
	annotations  map[string]string
}

// cosiAnnotations are what COSI's kustomization.yaml adds: its group is a protected *.k8s.io one.
var cosiAnnotations = map[string]string{
	"api-approved.kubernetes.io": "https://github.com/kubernetes/enhancements/tree/master/keps/sig-storage/1979-object-storage-support",
}

var helmReleaseCRD = moduleCRD{module: HelmControllerModule, path: "config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml"}

// platformCRDs are the real CRDs of what the charts create and where they come from.
var platformCRDs = []moduleCRD{
	{module: SourceControllerModule, path: "config/crd/bases/source.toolkit.fluxcd.io_externalartifacts.yaml"},
	// helm-controller watches the other chart sources too and does not start without them.
	{module: SourceControllerModule, path: "config/crd/bases/source.toolkit.fluxcd.io_helmcharts.yaml"},
	{module: SourceControllerModule, path: "config/crd/bases/source.toolkit.fluxcd.io_ocirepositories.yaml"},
	{module: ClusterAPIModule, path: "config/crd/bases/cluster.x-k8s.io_clusters.yaml"},
	{module: ClusterAPIModule, path: "config/crd/bases/cluster.x-k8s.io_machinedeployments.yaml"},
	{module: ClusterAPIModule, path: "config/crd/bases/cluster.x-k8s.io_machinehealthchecks.yaml"},
	{module: KubevirtClusterModule, path: "config/crd/bases/infrastructure.cluster.x-k8s.io_kubevirtclusters.yaml"},
	{module: COSIModule, path: "crds/objectstorage.k8s.io_bucketclaims.yaml", annotations: cosiAnnotations},
	{module: COSIModule, path: "crds/objectstorage.k8s.io_bucketaccesses.yaml", annotations: cosiAnnotations},
}

// standIns are minimal CRDs for the kinds no module ships a manifest of (see standin/README.md).
//
//go:embed standin/*.yaml
var standIns embed.FS

// modulePath downloads module@version (cached after the first time) and returns path inside it.
// $HELMRELEASE_CRD overrides the HelmRelease CRD's location.
func (c moduleCRD) modulePath() (string, error) {
	if c.module == helmReleaseCRD.module && c.path == helmReleaseCRD.path {
		if path := os.Getenv("HELMRELEASE_CRD"); path != "" {
			return path, nil
		}
	}
	out, err := exec.Command("go", "mod", "download", "-json", c.module).Output()
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", c.module, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("locating %s: %v", c.module, err)
	}
	return filepath.Join(mod.Dir, filepath.FromSlash(c.path)), nil
}

// installHelmReleaseCRD installs Flux's HelmRelease CRD and waits until it is served.
func installHelmReleaseCRD(ctx context.Context, client apiextensionsclient.Interface) error {
	return installModuleCRDs(ctx, client, []moduleCRD{helmReleaseCRD})
}

// InstallPlatformCRDs installs what Flux and the charts need beyond the HelmRelease CRD: the
// ExternalArtifact CRD and the workload CRDs (real ones from their modules, stand-ins for the
// rest), and waits until all are served.
func InstallPlatformCRDs(ctx context.Context, client apiextensionsclient.Interface) error {
	if err := installModuleCRDs(ctx, client, platformCRDs); err != nil {
		return err
	}
	entries, err := standIns.ReadDir("standin")
	if err != nil {
		return err
	}
	for _, e := range entries {
		raw, err := standIns.ReadFile("standin/" + e.Name())
		if err != nil {
			return err
		}
		if err := installCRD(ctx, client, e.Name(), raw, nil); err != nil {
			return err
		}
	}
	return nil
}

func installModuleCRDs(ctx context.Context, client apiextensionsclient.Interface, crds []moduleCRD) error {
	for _, c := range crds {
		path, err := c.modulePath()
		if err != nil {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := installCRD(ctx, client, path, raw, c.annotations); err != nil {
			return err
		}
	}
	return nil
}

// installCRD creates the CRD in raw (read from source), with extra annotations, unless it exists,
// and waits until it is served.
func installCRD(ctx context.Context, client apiextensionsclient.Interface, source string, raw []byte, annotations map[string]string) error {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		return fmt.Errorf("decoding %s: %w", source, err)
	}
	if len(annotations) > 0 && crd.Annotations == nil {
		crd.Annotations = map[string]string{}
	}
	for k, v := range annotations {
		crd.Annotations[k] = v
	}
	crds := client.ApiextensionsV1().CustomResourceDefinitions()
	if _, err := crds.Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating CRD %s from %s: %w", crd.Name, source, err)
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
