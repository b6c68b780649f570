# apps.cozy.io aggregated API server.
#   make run      start a local control plane with the server (state in .state/)
#   make test     unit tests, then e2e tests and the fault suite against a real control plane
#   make test-faults  the fault suite alone: outages, compaction, killed replicas, restarts, slow clients
#   make test-race  unit, e2e and fault suites under the race detector (CI runs it too; slower)
#   make verify   generated code, formatting and vet
#   make fuzz     fuzz the validate-and-map path for FUZZTIME
#   make bench    benchmark against HelmReleases served directly by kube-apiserver
#   make codegen  regenerate deepcopy, OpenAPI, clientset, listers, informers, apply configurations

SHELL := /usr/bin/env bash
STATE_DIR ?= $(CURDIR)/.state
BIN := $(CURDIR)/bin
KUBECTL := $(BIN)/kubectl
HELM_CONTROLLER := $(BIN)/helm-controller
# Stamp kubectl like a release build, or `kubectl version` fails.
KUBECTL_LDFLAGS := -X k8s.io/component-base/version.gitVersion=v1.37.1 \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37
GO_TEST_FLAGS ?= -count=1
FUZZTIME ?= 60s

.PHONY: all build kubectl helm-controller run test test-unit test-e2e test-faults test-race bench fuzz codegen verify vet fmt-check clean

all: build

build:
	go build -o $(BIN)/cozy-apiserver ./cmd/cozy-apiserver

kubectl:
	cd test && go build -ldflags "$(KUBECTL_LDFLAGS)" -o $(KUBECTL) ./cmd/kubectl

# Flux's real helm-controller, built from its module source in its own directory (once; ~5 min).
helm-controller:
	hack/build-helm-controller.sh $(HELM_CONTROLLER)

run: kubectl helm-controller
	cd test && go build -o $(BIN)/cozy-local ./cmd/cozy-local
	$(BIN)/cozy-local --state-dir $(STATE_DIR) --kubectl $(KUBECTL) --helm-controller $(HELM_CONTROLLER) --charts artifacts/charts

test: test-unit test-e2e test-faults

test-unit:
	go test $(GO_TEST_FLAGS) ./...

# Everything in the test module but the fault suite, one package at a time (each starts its own
# control plane; two at once on a small machine would only slow both).
test-e2e: kubectl helm-controller
	cd test && KUBECTL=$(KUBECTL) HELM_CONTROLLER=$(HELM_CONTROLLER) go test -p 1 $(GO_TEST_FLAGS) -timeout 30m $$(go list ./... | grep -v /faults$$)

# The read model under faults, compared event by event with a direct HelmRelease watch.
test-faults:
	cd test && go test $(GO_TEST_FLAGS) -v -timeout 15m ./faults/ 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:' ; exit $${PIPESTATUS[0]}

# Unit and e2e suites under the race detector: several servers share one process in e2e, so races
# between them show up here.
test-race: kubectl helm-controller
	go test -race $(GO_TEST_FLAGS) ./...
	cd test && KUBECTL=$(KUBECTL) HELM_CONTROLLER=$(HELM_CONTROLLER) go test -race -p 1 $(GO_TEST_FLAGS) -timeout 40m ./e2e/ ./faults/

# Compare apps.cozy.io with HelmReleases served directly; BENCH_FLAGS e.g. "--objects 1000".
BENCH_FLAGS ?=
bench: build
	cd test && go run ./cmd/bench --server $(BIN)/cozy-apiserver --out $(CURDIR)/bench-results.json $(BENCH_FLAGS)

# Fuzz the decode → default → validate → HelmRelease path (make test runs its seed corpus).
fuzz:
	go test ./pkg/registry -run '^$$' -fuzz FuzzValidateAndMap -fuzztime $(FUZZTIME)

codegen:
	hack/update-codegen.sh

verify: fmt-check vet
	hack/verify-codegen.sh

vet:
	go vet ./...
	cd test && go vet ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files -co --exclude-standard -- '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf $(BIN)
