// Command cozy-local runs a complete local platform for trying apps.cozy.io by hand: embedded
// etcd, kube-apiserver with the aggregator and the apps.cozy.io server in this process, the real
// Flux helm-controller installing the local charts (artifacts/charts) as its own process, and a
// workload simulator standing in for KubeVirt, CDI, COSI, Cluster API and Kamaji. State survives
// restarts in --state-dir; Ctrl-C stops everything cleanly.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"

	"github.com/cozystack/apps-apiserver/test/framework"
	"github.com/cozystack/apps-apiserver/test/workloadsim"
)

const demoNamespace, demoTenant = "tenant-demo", "demo"

// demoAdmin and demoViewer hold the admin and view roles in the demo namespace.
const demoAdmin, demoViewer = "demo-admin", "demo-viewer"

// localCatalog are the definitions of artifacts/catalog applied at start: the applications with a
// local chart and the typed kinds.
var localCatalog = []string{"postgres", "redis", "tenant", "bucket", "kubernetes", "vm-disk", "vm-instance"}

var flux framework.FluxOptions

func main() {
	stateDir := flag.String("state-dir", ".state", "Directory keeping etcd data, certificates, logs and the kubeconfig across restarts.")
	kubectl := flag.String("kubectl", "kubectl", "kubectl binary named in the printed instructions.")
	flag.StringVar(&flux.HelmController, "helm-controller", "bin/helm-controller", "Flux helm-controller binary (hack/build-helm-controller.sh builds it); empty to run without Flux.")
	flag.StringVar(&flux.ChartsDir, "charts", filepath.Join("artifacts", "charts"), "Directory of the local charts Flux installs, one per kind.")
	simulate := flag.Bool("simulate-workloads", true, "Run the workload simulator, which marks the workload objects the charts create as ready, as their controllers would.")
	flag.Parse()
	if err := run(*stateDir, *kubectl, *simulate); err != nil {
		fmt.Fprintln(os.Stderr, "cozy-local:", err)
		os.Exit(1)
	}
}

func run(stateDir, kubectl string, simulate bool) error {
	stateDir, err := filepath.Abs(stateDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	logPath := filepath.Join(stateDir, "control-plane.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// The control plane logs a lot; keep it in a file and the terminal for instructions.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	for name, value := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL"} {
		if err := klogFlags.Set(name, value); err != nil {
			return err
		}
	}
	klog.SetOutput(logFile)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	fmt.Printf("Starting etcd, kube-apiserver and cozy-apiserver (state in %s, logs in %s)...\n", stateDir, logPath)
	tb := framework.NewProcessTB("cozy-local")
	defer tb.Close()
	cp, err := framework.Start(ctx, tb, framework.Options{StateDir: stateDir, Credentials: true})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("Stopping...")
		cp.Stop()
	}()
	if err := cp.CreateNamespace(ctx, demoNamespace, demoTenant); err != nil {
		return err
	}
	// Two tenant users of the demo namespace, for trying what each role sees (kubectl --as).
	for user, role := range map[string]string{demoAdmin: "admin", demoViewer: "view"} {
		if err := bindDemoRole(ctx, cp, user, role); err != nil {
			return err
		}
	}
	// The catalog: definitions of the applications with a local chart, and of the typed kinds.
	if err := cp.ApplyCatalog(ctx, localCatalog...); err != nil {
		return err
	}
	platform := "Flux is off (--helm-controller is empty): releases are stored but not installed."
	if flux.HelmController != "" {
		f, err := cp.StartFlux(ctx, flux)
		if err != nil {
			return err
		}
		platform = fmt.Sprintf("Flux helm-controller installs the releases from %s (log: %s).", flux.ChartsDir, f.LogPath)
		if simulate {
			go func() {
				if err := workloadsim.Run(ctx, cp.Dynamic); err != nil {
					klog.ErrorS(err, "Workload simulator stopped")
				}
			}()
			platform += "\nThe workload simulator marks the VMs, disks, buckets and clusters the charts create as ready\n(nothing runs them here; --simulate-workloads=false to watch them stay pending)."
		}
	}
	examples, err := filepath.Abs(filepath.Join("artifacts", "examples"))
	if err != nil {
		return err
	}
	if err := createDemoTenant(ctx, cp, filepath.Join(examples, "catalog", "tenant.yaml")); err != nil {
		return err
	}
	mariadb, err := filepath.Abs(filepath.Join("artifacts", "catalog", "mariadb.yaml"))
	if err != nil {
		return err
	}
	fmt.Printf(`
Ready in %[1]s. apps.cozy.io is served through the aggregator; %[2]q is a tenant namespace.
%[3]s

  export KUBECONFIG=%[4]s
  %[5]s api-resources --api-group=apps.cozy.io
  %[5]s explain kubernetes.spec.nodeGroups
  %[5]s apply -n %[2]s -f %[6]s
  %[5]s get cozy -n %[2]s
  %[5]s wait --for=condition=Ready cozy --all -n %[2]s --timeout=2m
  %[5]s get kubernetes -n %[2]s -o yaml
  %[5]s get helmreleases -n %[2]s

The catalog: each ApplicationDefinition is a kind, served as soon as it is applied.
  %[5]s get applicationdefinitions
  %[5]s apply -f %[7]s
  %[5]s get mariadbs -n %[2]s
  %[5]s describe applicationdefinition mariadb
  %[5]s apply -n %[2]s -f %[6]s/catalog/postgres.yaml

A tenant's view: the Secrets (admin and edit) and Services (view too) the definition says are the
application's, read by the server, so a tenant role needs no right on Secrets or Services.
  %[5]s get --raw /apis/apps.cozy.io/v1alpha1/namespaces/%[2]s/postgreses/orders/secrets --as %[9]s
  %[5]s get --raw /apis/apps.cozy.io/v1alpha1/namespaces/%[2]s/postgreses/orders/services --as %[10]s
  %[5]s get --raw /apis/apps.cozy.io/v1alpha1/namespaces/%[2]s/postgreses/orders/secrets --as %[10]s   # forbidden: view reads no credentials
  %[5]s get tenantnamespaces --as %[10]s          # the tenant namespaces the user may work in

Nested tenants: the Tenant "team" made the child tenant namespace %[2]s-team, where the demo
users keep their roles; deleting the Tenant deletes it and everything in it.
  %[5]s get tenants -n %[2]s -o custom-columns=NAME:.metadata.name,NAMESPACE:.status.namespace,READY:.status.conditions[0].status
  %[5]s apply -n %[2]s-team -f %[6]s/catalog/postgres.yaml --as %[9]s
  %[5]s get cozy -n %[2]s-team --as %[10]s

Press Ctrl-C to stop; state is kept in %[8]s.
`, time.Since(started).Round(100*time.Millisecond), demoNamespace, platform, cp.KubeconfigPath,
		kubectl, examples, mariadb, stateDir, demoAdmin, demoViewer)
	<-ctx.Done()
	return nil
}

// createDemoTenant creates the example Tenant in the demo namespace once its kind is served (the
// catalog was just applied); one left by an earlier run is kept.
func createDemoTenant(ctx context.Context, cp *framework.ControlPlane, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	tenant := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &tenant.Object); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tenants := cp.Dynamic.Resource(schema.GroupVersionResource{Group: "apps.cozy.io", Version: "v1alpha1", Resource: "tenants"}).Namespace(demoNamespace)
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := tenants.Create(ctx, tenant, metav1.CreateOptions{})
		switch {
		case err == nil, apierrors.IsAlreadyExists(err):
			return true, nil
		case apierrors.IsNotFound(err):
			return false, nil // the kind is not served yet
		default:
			return false, fmt.Errorf("creating the demo Tenant: %w", err)
		}
	})
}

// bindDemoRole gives user the built-in role in the demo namespace.
func bindDemoRole(ctx context.Context, cp *framework.ControlPlane, user, role string) error {
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: demoNamespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	_, err := cp.Kube.RbacV1().RoleBindings(demoNamespace).Create(ctx, rb, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
