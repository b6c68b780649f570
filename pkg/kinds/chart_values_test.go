package kinds_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/openapi"
	"github.com/cozystack/apps-apiserver/pkg/registry"
	"github.com/cozystack/apps-apiserver/pkg/validation"
)

// fact is what a chart's values.schema.json declares for one path (Cozystack at 3c780acd4), as
// the project's reference lists it: the JSON type ("-" for a quantity, string or number), the
// enum, the required children and the chart's default. Paths use * for map keys and [] for list
// items. These facts are written here by hand from that reference; no chart file is copied.
type fact struct {
	typ      string
	enum     []string
	required []string
	def      any
}

var presets = strings.Fields("t1.nano t1.micro t1.small t1.medium t1.large t1.xlarge t1.2xlarge t1.4xlarge c1.nano c1.micro c1.small c1.medium c1.large c1.xlarge c1.2xlarge c1.4xlarge s1.nano s1.micro s1.small s1.medium s1.large s1.xlarge s1.2xlarge s1.4xlarge u1.nano u1.micro u1.small u1.medium u1.large u1.xlarge u1.2xlarge u1.4xlarge m1.nano m1.micro m1.small m1.medium m1.large m1.xlarge m1.2xlarge m1.4xlarge nano micro small medium large xlarge 2xlarge")

func addon(toggle, override bool) map[string]fact {
	out := map[string]fact{}
	var required []string
	if toggle {
		required = append(required, "enabled")
		out["enabled"] = fact{typ: "boolean", def: false}
	}
	if override {
		required = append(required, "valuesOverride")
		out["valuesOverride"] = fact{typ: "object", def: map[string]any{}}
	}
	out[""] = fact{typ: "object", required: required, def: map[string]any{}}
	return out
}

func component(prefix string, preset string) map[string]fact {
	return map[string]fact{
		prefix:                       {typ: "object", required: []string{"resources", "resourcesPreset"}, def: map[string]any{}},
		prefix + ".resources":        {typ: "object", def: map[string]any{}},
		prefix + ".resources.cpu":    {typ: "-"},
		prefix + ".resources.memory": {typ: "-"},
		prefix + ".resourcesPreset":  {typ: "string", enum: presets, def: preset},
	}
}

func kubernetesFacts() map[string]fact {
	f := map[string]fact{
		"storageClass": {typ: "string", def: "replicated"}, "nodeGroups": {typ: "object", def: map[string]any{}},
		"nodeGroups.*":          {typ: "object", required: []string{"diskSize", "instanceType", "maxReplicas", "minReplicas"}},
		"nodeGroups.*.diskSize": {typ: "-", def: "20Gi"}, "nodeGroups.*.gpus": {typ: "array"},
		"nodeGroups.*.gpus[]": {typ: "object", required: []string{"name"}}, "nodeGroups.*.gpus[].name": {typ: "string"},
		"nodeGroups.*.instanceType": {typ: "string", def: "u1.medium"}, "nodeGroups.*.kubelet": {typ: "object"},
		"nodeGroups.*.kubelet.evictionHardMemory": {typ: "string", def: "7%"}, "nodeGroups.*.kubelet.evictionSoftMemory": {typ: "string", def: "10%"},
		"nodeGroups.*.kubelet.kubeReservedCpu": {typ: "string"}, "nodeGroups.*.kubelet.kubeReservedMemory": {typ: "string"},
		"nodeGroups.*.kubelet.systemReservedCpu": {typ: "string"}, "nodeGroups.*.kubelet.systemReservedMemory": {typ: "string"},
		"nodeGroups.*.logSerialConsole": {typ: "boolean", def: false}, "nodeGroups.*.maxReplicas": {typ: "integer", def: int64(10)},
		"nodeGroups.*.maxUnhealthy": {typ: "string"}, "nodeGroups.*.minReplicas": {typ: "integer", def: int64(0)},
		"nodeGroups.*.nodeStartupTimeout": {typ: "string"}, "nodeGroups.*.podCpuLimit": {typ: "-"}, "nodeGroups.*.podCpuRequest": {typ: "-"},
		"nodeGroups.*.resources": {typ: "object"}, "nodeGroups.*.resources.cpu": {typ: "-"}, "nodeGroups.*.resources.memory": {typ: "-"},
		"nodeGroups.*.roles": {typ: "array"}, "nodeGroups.*.roles[]": {typ: "string"}, "nodeGroups.*.storageClass": {typ: "string"},
		"version": {typ: "string", enum: []string{"v1.35", "v1.34", "v1.33", "v1.32", "v1.31"}, def: "v1.35"},
		"host":    {typ: "string", def: ""},
		"addons": {typ: "object", def: map[string]any{}, required: []string{"certManager", "cilium", "coredns", "gatewayAPI", "gpuOperator", "hami",
			"ingressNginx", "monitoringAgents", "ouroboros", "velero", "verticalPodAutoscaler"}},
		"addons.ingressNginx.exposeMethod": {typ: "string", enum: []string{"Proxied", "LoadBalancer"}, def: "Proxied"},
		"addons.ingressNginx.hosts":        {typ: "array", def: []any{}}, "addons.ingressNginx.hosts[]": {typ: "string"},
		"controlPlane":                     {typ: "object", def: map[string]any{}, required: []string{"apiServer", "controllerManager", "konnectivity", "replicas", "scheduler"}},
		"controlPlane.replicas":            {typ: "integer", def: int64(2)},
		"controlPlane.apiServer.extraArgs": {typ: "array", def: []any{}}, "controlPlane.apiServer.extraArgs[]": {typ: "string"},
		"controlPlane.apiServer.extraVolumeMounts": {typ: "array", def: []any{}}, "controlPlane.apiServer.extraVolumeMounts[]": {typ: "object"},
		"controlPlane.apiServer.extraVolumes": {typ: "array", def: []any{}}, "controlPlane.apiServer.extraVolumes[]": {typ: "object"},
		"controlPlane.konnectivity": {typ: "object", def: map[string]any{}, required: []string{"server"}},
		"images":                    {typ: "object", def: map[string]any{}}, "images.kubectl": {typ: "string", def: ""},
		"images.talosCsrSigner": {typ: "string", def: ""}, "images.waitForKubeconfig": {typ: "string", def: ""},
		"talos":                 {typ: "object", def: map[string]any{}, required: []string{"imageFactoryURL", "installerRepository", "registryMirrors", "schematicID", "version"}},
		"talos.imageFactoryURL": {typ: "string", def: "https://factory.talos.dev"}, "talos.installerRepository": {typ: "string", def: "factory.talos.dev/installer"},
		"talos.registryMirrors":        {typ: "object", def: map[string]any{}},
		"talos.schematicID":            {typ: "string", def: "ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515"},
		"talos.version":                {typ: "string", def: "v1.13.6"},
		"nodeHealthCheck":              {typ: "object", def: map[string]any{}, required: []string{"maxUnhealthy", "nodeStartupTimeout"}},
		"nodeHealthCheck.maxUnhealthy": {typ: "string", def: "50%"}, "nodeHealthCheck.nodeStartupTimeout": {typ: "string", def: "20m"},
		"nodeHealthCheck.readyFalseTimeout": {typ: "string", def: "10m"}, "nodeHealthCheck.readyUnknownTimeout": {typ: "string", def: "5m"},
		"maxNodeProvisionTime": {typ: "string", def: "30m"},
		"oidc":                 {typ: "object", def: map[string]any{}, required: []string{"mode"}},
		"oidc.customConfig":    {typ: "object", def: map[string]any{}}, "oidc.customConfig.config": {typ: "string", def: ""},
		"oidc.customConfig.secretRef": {typ: "object", def: map[string]any{}}, "oidc.customConfig.secretRef.name": {typ: "string", def: ""},
		"oidc.mode":  {typ: "string", enum: []string{"None", "System", "CustomConfig"}, def: "None"},
		"oidc.users": {typ: "array", def: []any{}}, "oidc.users[]": {typ: "object", required: []string{"email", "role"}},
		"oidc.users[].email": {typ: "string"}, "oidc.users[].role": {typ: "string", enum: []string{"admin", "view"}},
	}
	for name, shape := range map[string][2]bool{"certManager": {true, true}, "cilium": {false, true}, "coredns": {false, true}, "gatewayAPI": {true, false},
		"gpuOperator": {true, true}, "hami": {true, true}, "ingressNginx": {true, true}, "monitoringAgents": {true, true}, "ouroboros": {true, true},
		"velero": {true, true}, "verticalPodAutoscaler": {false, true}} {
		for sub, fc := range addon(shape[0], shape[1]) {
			path := "addons." + name
			if sub != "" {
				path += "." + sub
			}
			if name == "ingressNginx" && sub == "" {
				fc.required = []string{"enabled", "exposeMethod", "valuesOverride"}
			}
			f[path] = fc
		}
	}
	for prefix, preset := range map[string]string{"controlPlane.apiServer": "c1.medium", "controlPlane.controllerManager": "t1.micro",
		"controlPlane.konnectivity.server": "t1.micro", "controlPlane.scheduler": "t1.micro"} {
		for path, fc := range component(prefix, preset) {
			f[path] = fc
		}
	}
	return f
}

func vmInstanceFacts() map[string]fact {
	return map[string]fact{
		"external": {typ: "boolean", def: false}, "externalMethod": {typ: "string", enum: []string{"PortList", "WholeIP"}, def: "PortList"},
		"externalPorts": {typ: "array", def: []any{int64(22)}}, "externalPorts[]": {typ: "integer"}, "externalAllowICMP": {typ: "boolean", def: true},
		"runStrategy":  {typ: "string", enum: []string{"Always", "Halted", "Manual", "RerunOnFailure", "Once"}, def: "Always"},
		"instanceType": {typ: "string", def: "u1.medium"}, "instanceProfile": {typ: "string", def: "ubuntu"},
		"disks": {typ: "array", def: []any{}}, "disks[]": {typ: "object", required: []string{"name"}}, "disks[].bus": {typ: "string"}, "disks[].name": {typ: "string"},
		"networks": {typ: "array", def: []any{}}, "networks[]": {typ: "object"}, "networks[].name": {typ: "string"},
		"subnets": {typ: "array", def: []any{}}, "subnets[]": {typ: "object"}, "subnets[].name": {typ: "string"},
		"gpus": {typ: "array", def: []any{}}, "gpus[]": {typ: "object", required: []string{"name"}}, "gpus[].name": {typ: "string"},
		"cpuModel": {typ: "string", def: ""}, "resources": {typ: "object", def: map[string]any{}},
		"resources.cpu": {typ: "-"}, "resources.memory": {typ: "-"}, "resources.sockets": {typ: "-"},
		"sshKeys": {typ: "array", def: []any{}}, "sshKeys[]": {typ: "string"}, "cloudInit": {typ: "string", def: ""}, "cloudInitSeed": {typ: "string", def: ""},
	}
}

func vmDiskFacts() map[string]fact {
	return map[string]fact{
		"source": {typ: "object", def: map[string]any{}}, "source.disk": {typ: "object", required: []string{"name"}}, "source.disk.name": {typ: "string"},
		"source.http": {typ: "object", required: []string{"url"}}, "source.http.url": {typ: "string"},
		"source.image": {typ: "object", required: []string{"name"}}, "source.image.name": {typ: "string"}, "source.upload": {typ: "object"},
		"optical": {typ: "boolean", def: false}, "storage": {typ: "-", def: "5Gi"}, "storageClass": {typ: "string", def: "replicated"},
	}
}

func bucketFacts() map[string]fact {
	return map[string]fact{
		"locking": {typ: "boolean", def: false}, "storagePool": {typ: "string", def: ""},
		"users": {typ: "object", def: map[string]any{}}, "users.*": {typ: "object"}, "users.*.readonly": {typ: "boolean"},
	}
}

// freeForm are the chart's free-form objects: what is inside them is the sub-chart's business.
var freeForm = map[string]bool{"talos.registryMirrors": true, "controlPlane.apiServer.extraVolumes[]": true, "controlPlane.apiServer.extraVolumeMounts[]": true}

// TestWrittenValuesSatisfyTheCharts runs representative and edge-case specs through the write
// path (decode-time coercion and defaults, validation, the release mapping) and checks the values
// written, merged over the chart's defaults as Helm merges them, against what the chart declares:
// types, enums, required keys, and no key the chart does not take.
func TestWrittenValuesSatisfyTheCharts(t *testing.T) {
	examples := func(file string) string {
		raw, err := os.ReadFile(filepath.Join("..", "..", "artifacts", "examples", file))
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			t.Fatal(err)
		}
		spec, _ := json.Marshal(obj["spec"])
		return string(spec)
	}
	cases := map[string]struct {
		facts map[string]fact
		specs []string
	}{
		"Kubernetes": {kubernetesFacts(), []string{`{}`, examples("kubernetes.yaml"),
			`{"nodeGroups":{"md1":{}},"addons":{"gatewayAPI":{"enabled":true},"cilium":{"valuesOverride":{"a":{"b":1}}}}}`,
			`{"nodeGroups":{"gpu":{"minReplicas":0,"maxReplicas":0,"gpus":[{"name":"nvidia.com/x"}],"kubelet":{"kubeReservedCpu":"100m"},"resources":{"cpu":2,"memory":"4Gi"}}},"controlPlane":{"replicas":1,"apiServer":{"resourcesPreset":"c1.large","extraArgs":["--v=2"],"extraVolumes":[{"name":"x","emptyDir":{}}]}},"oidc":{"mode":"System","users":[{"email":"a@example.org","role":"admin"}]}}`}},
		"VirtualMachine": {vmInstanceFacts(), []string{`{}`, examples("virtualmachine.yaml"),
			`{"externalPorts":[],"externalAllowICMP":false,"runStrategy":"Once","resources":{"cpu":"2","memory":"2Gi","sockets":1},"subnets":[{"name":"a"}],"networks":[{}],"gpus":[{"name":"g"}]}`}},
		"VMDisk": {vmDiskFacts(), []string{`{}`, examples("vmdisk.yaml"), `{"source":{"upload":{}},"optical":true}`,
			`{"source":{"http":{"url":"https://example.org/disk.img"}},"storage":"1Ti"}`, `{"source":{"disk":{"name":"other"}}}`}},
		"Bucket": {bucketFacts(), []string{`{}`, examples("bucket.yaml"), `{"users":{"a":{},"b":{"readonly":false}},"storagePool":"fast"}`}},
	}
	for kindName, c := range cases {
		kind := kinds.ByName(kindName)
		model, err := registry.ModelName(kind.New())
		if err != nil {
			t.Fatal(err)
		}
		schema, err := validation.New(openapi.Definitions, model)
		if err != nil {
			t.Fatal(err)
		}
		for i, spec := range c.specs {
			var specMap map[string]any
			if err := kjson.UnmarshalCaseSensitivePreserveInts([]byte(spec), &specMap); err != nil {
				t.Fatal(err)
			}
			content := map[string]any{"spec": runtime.DeepCopyJSON(specMap)}
			if errs := schema.Coerce(content); len(errs) > 0 {
				t.Fatalf("%s case %d: %v", kindName, i, errs)
			}
			if errs := schema.Validate(context.Background(), content, nil); len(errs) > 0 {
				t.Fatalf("%s case %d is refused: %v", kindName, i, errs)
			}
			obj := kind.New()
			raw, _ := json.Marshal(content)
			if err := json.Unmarshal(raw, obj); err != nil {
				t.Fatal(err)
			}
			hr := kind.NewRelease("ns", "x")
			if err := kind.ApplyTo(obj, hr); err != nil {
				t.Fatal(err)
			}
			values, _ := hr.Object["spec"].(map[string]any)["values"].(map[string]any)
			// JSON numbers as Helm reads them.
			raw, _ = json.Marshal(values)
			var written map[string]any
			_ = json.Unmarshal(raw, &written)
			merged := mergeOver(defaults(c.facts, ""), written)
			var problems []string
			check(c.facts, "", merged, &problems)
			sort.Strings(problems)
			for _, p := range problems {
				t.Errorf("%s case %d (%s): %s", kindName, i, spec, p)
			}
		}
	}
}

// defaults builds the chart's default tree under prefix from the facts.
func defaults(facts map[string]fact, prefix string) map[string]any {
	out := map[string]any{}
	for path, f := range facts {
		rest, ok := strings.CutPrefix(path, prefix)
		if !ok || f.def == nil || strings.ContainsAny(rest, "*[") || rest == "" {
			continue
		}
		if prefix != "" && !strings.HasPrefix(rest, ".") {
			continue
		}
		rest = strings.TrimPrefix(rest, ".")
		if strings.Contains(rest, ".") {
			continue
		}
		def := f.def
		if m, ok := def.(map[string]any); ok && len(m) == 0 {
			def = defaults(facts, path)
		}
		out[rest] = def
	}
	return out
}

// mergeOver merges values over the defaults as Helm merges a release's values over the chart's.
func mergeOver(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = mergeOver(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func check(facts map[string]fact, path string, v any, problems *[]string) {
	if path != "" {
		f, ok := facts[path]
		if !ok {
			*problems = append(*problems, fmt.Sprintf("%s: the chart does not take it", path))
			return
		}
		if !typeOK(f.typ, v) {
			*problems = append(*problems, fmt.Sprintf("%s: %v is not a %s", path, v, f.typ))
			return
		}
		if s, isString := v.(string); isString && len(f.enum) > 0 && !contains(f.enum, s) {
			*problems = append(*problems, fmt.Sprintf("%s: %q is not one of %v", path, s, f.enum))
		}
		if freeForm[path] || strings.HasSuffix(path, ".valuesOverride") {
			return
		}
		if m, ok := v.(map[string]any); ok {
			for _, r := range f.required {
				if _, present := m[r]; !present {
					*problems = append(*problems, fmt.Sprintf("%s: required key %s missing", path, r))
				}
			}
		}
	}
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch x := v.(type) {
	case map[string]any:
		for key, child := range x {
			childPath := join(key)
			if _, declared := facts[childPath]; !declared {
				if _, isMap := facts[join("*")]; isMap {
					childPath = join("*")
				}
			}
			check(facts, childPath, child, problems)
		}
	case []any:
		for _, item := range x {
			check(facts, path+"[]", item, problems)
		}
	}
}

func typeOK(typ string, v any) bool {
	switch typ {
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer":
		n, ok := v.(float64)
		return ok && n == float64(int64(n))
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "-":
		switch v.(type) {
		case string, float64:
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
