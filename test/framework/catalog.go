package framework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
)

// CatalogDir is artifacts/catalog of the checkout the framework was built from: this project's
// ApplicationDefinitions, shaped like the platform's.
func CatalogDir() string { return filepath.Join(DeployDir(), "..", "catalog") }

// InstallApplicationDefinitionCRD installs the shipped ApplicationDefinition CRD, as the platform
// has it before any server starts (Start does).
func (cp *ControlPlane) InstallApplicationDefinitionCRD(ctx context.Context) error {
	path := filepath.Join(DeployDir(), "05-applicationdefinition-crd.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return installCRD(ctx, cp.APIExtensions, path, raw, nil)
}

// Definition reads the definition artifacts/catalog/<name>.yaml.
func Definition(name string) (*unstructured.Unstructured, error) {
	raw, err := os.ReadFile(filepath.Join(CatalogDir(), name+".yaml"))
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &obj.Object); err != nil {
		return nil, fmt.Errorf("definition %s: %w", name, err)
	}
	return obj, nil
}

// ApplyDefinition creates the ApplicationDefinition, or replaces the one of the same name.
func (cp *ControlPlane) ApplyDefinition(ctx context.Context, def *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	client := cp.Dynamic.Resource(kinds.ApplicationDefinitionGVR)
	created, err := client.Create(ctx, def, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return created, err
	}
	current, err := client.Get(ctx, def.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	update := def.DeepCopy()
	update.SetResourceVersion(current.GetResourceVersion())
	return client.Update(ctx, update, metav1.UpdateOptions{})
}

// ApplyCatalog applies the named definitions of artifacts/catalog.
func (cp *ControlPlane) ApplyCatalog(ctx context.Context, names ...string) error {
	for _, name := range names {
		def, err := Definition(name)
		if err != nil {
			return err
		}
		if _, err := cp.ApplyDefinition(ctx, def); err != nil {
			return fmt.Errorf("applying definition %s: %w", name, err)
		}
	}
	return nil
}

// definedCharts are the local charts of defined kinds, by the ExternalArtifact their definition's
// releases install from: each chart directory with a definition of the same name.
func definedCharts(chartsDir string) (map[string]string, error) {
	entries, err := os.ReadDir(chartsDir)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		def, err := Definition(e.Name())
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		name, _, _ := unstructured.NestedString(def.Object, "spec", "release", "chartRef", "name")
		out[name] = filepath.Join(chartsDir, e.Name())
	}
	return out, nil
}
