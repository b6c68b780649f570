package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
)

// ExternalArtifactGVR is the Flux source the releases' chartRef points at.
var ExternalArtifactGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "externalartifacts"}

// FluxOptions shape the Flux a control plane runs.
type FluxOptions struct {
	// HelmController is the helm-controller binary (hack/build-helm-controller.sh builds it).
	HelmController string
	// ChartsDir holds one chart directory per kind (artifacts/charts).
	ChartsDir string
	// WatchLabelSelector limits the HelmReleases helm-controller reconciles, as Flux's sharding
	// does; empty for all.
	WatchLabelSelector string
}

// Flux is the real Flux helm-controller reconciling the control plane's HelmReleases, with the
// local charts served to it over loopback as the ExternalArtifacts the releases name (in place of
// Cozystack's source-controller).
type Flux struct {
	// LogPath is helm-controller's log.
	LogPath string

	artifacts *http.Server
	process   *os.Process
	exited    chan struct{}
}

// StartFlux publishes every kind's local chart as its ExternalArtifact (Start installed the CRDs)
// and starts helm-controller. Stop it with Flux.Stop (the control plane's Stop does too).
func (cp *ControlPlane) StartFlux(ctx context.Context, opts FluxOptions) (*Flux, error) {
	if _, err := os.Stat(opts.HelmController); err != nil {
		return nil, fmt.Errorf("helm-controller binary (build it with hack/build-helm-controller.sh): %w", err)
	}
	f := &Flux{LogPath: filepath.Join(cp.StateDir, "helm-controller.log"), exited: make(chan struct{})}
	if err := f.serveArtifacts(ctx, cp, opts.ChartsDir); err != nil {
		f.Stop()
		return nil, err
	}
	if err := f.startHelmController(cp, opts); err != nil {
		f.Stop()
		return nil, err
	}
	cp.flux = f
	return f, nil
}

// serveArtifacts packages each kind's chart, serves the archives on loopback and points the
// kind's ExternalArtifact at them.
func (f *Flux) serveArtifacts(ctx context.Context, cp *ControlPlane, chartsDir string) error {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	f.artifacts = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.artifacts.Serve(listener) }()
	base := "http://" + listener.Addr().String()
	// serve packages the chart in dir, serves it and points the ExternalArtifact at it.
	serve := func(dir, namespace, name string) error {
		archive, err := packageChart(dir)
		if err != nil {
			return err
		}
		path := "/charts/" + archive.name + ".tgz"
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = w.Write(archive.data)
		})
		return publishArtifact(ctx, cp, namespace, name, base+path, archive)
	}
	for _, kind := range kinds.All() {
		ref := kind.Layout.Chart.ChartRef
		if ref == nil || ref.Kind != "ExternalArtifact" {
			return fmt.Errorf("kind %s does not install from an ExternalArtifact", kind.Kind)
		}
		if err := serve(localChartDir(chartsDir, kind), ref.Namespace, ref.Name); err != nil {
			return err
		}
	}
	// The defined kinds' local charts, under the names their definitions give.
	defined, err := definedCharts(chartsDir)
	if err != nil {
		return err
	}
	typed := map[string]bool{}
	for _, kind := range kinds.All() {
		typed[kind.Layout.Chart.ChartRef.Name] = true
	}
	for artifact, dir := range defined {
		if typed[artifact] {
			continue
		}
		if err := serve(dir, "cozy-system", artifact); err != nil {
			return err
		}
	}
	return nil
}

// publishArtifact creates or updates the ExternalArtifact and sets the artifact in its status, as
// the producer of an ExternalArtifact does.
func publishArtifact(ctx context.Context, cp *ControlPlane, namespace, name, url string, archive *chartArchive) error {
	client := cp.Dynamic.Resource(ExternalArtifactGVR).Namespace(namespace)
	ea, err := client.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		ea = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": ExternalArtifactGVR.GroupVersion().String(), "kind": "ExternalArtifact",
			"metadata": map[string]any{"name": name, "namespace": namespace}, "spec": map[string]any{},
		}}
		ea, err = client.Create(ctx, ea, metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("ExternalArtifact %s/%s: %w", namespace, name, err)
	}
	now := metav1.Now().UTC().Format(time.RFC3339)
	ea.Object["status"] = map[string]any{
		"artifact": map[string]any{
			"path": "charts/" + archive.name + ".tgz", "url": url, "revision": "0.1.0@" + archive.digest,
			"digest": archive.digest, "lastUpdateTime": now, "size": int64(len(archive.data)),
		},
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Succeeded",
			"message": "local chart " + archive.name, "lastTransitionTime": now, "observedGeneration": ea.GetGeneration()}},
	}
	if _, err := client.UpdateStatus(ctx, ea, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("ExternalArtifact %s/%s status: %w", namespace, name, err)
	}
	return nil
}

func (f *Flux) startHelmController(cp *ControlPlane, opts FluxOptions) error {
	logFile, err := os.OpenFile(f.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	args := []string{
		"--feature-gates=ExternalArtifact=true",
		"--watch-all-namespaces=true",
		"--metrics-addr=127.0.0.1:0",
		"--health-addr=127.0.0.1:0",
		"--graceful-shutdown-timeout=5s",
		"--requeue-dependency=5s",
		"--log-encoding=console",
	}
	if opts.WatchLabelSelector != "" {
		args = append(args, "--watch-label-selector="+opts.WatchLabelSelector)
	}
	cmd := exec.Command(opts.HelmController, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cp.KubeconfigPath, "RUNTIME_NAMESPACE="+ServiceNamespace)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting helm-controller: %w", err)
	}
	f.process = cmd.Process
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(f.exited)
	}()
	return nil
}

// FluxLogPath is helm-controller's log file, empty when Flux does not run.
func (cp *ControlPlane) FluxLogPath() string {
	if cp.flux == nil {
		return ""
	}
	return cp.flux.LogPath
}

// Stop ends helm-controller (it releases nothing it holds: releases stay as they are) and the
// artifact server.
func (f *Flux) Stop() {
	if f == nil {
		return
	}
	if f.process != nil {
		_ = f.process.Signal(syscall.SIGTERM)
		select {
		case <-f.exited:
		case <-time.After(10 * time.Second):
			_ = f.process.Kill()
			<-f.exited
		}
		f.process = nil
	}
	if f.artifacts != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := f.artifacts.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			_ = f.artifacts.Close()
		}
	}
}
