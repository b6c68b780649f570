#!/usr/bin/env bash
# Regenerates every generated file from the Go types in apis/: deepcopy and model names beside the
# types, and OpenAPI definitions, clientset, listers, informers and apply configurations in generated/.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE="$(cd "${ROOT}" && go list -m -f '{{.Path}}' | head -n1)"

# go list reports a module's directory only once it is in the module cache.
(cd "${ROOT}" && go mod download k8s.io/code-generator)
CODEGEN_ROOT="$(cd "${ROOT}" && go list -m -f '{{.Dir}}' k8s.io/code-generator)"
source "${CODEGEN_ROOT}/kube_codegen.sh"

cd "${ROOT}"
BOILERPLATE="${ROOT}/hack/boilerplate.go.txt"
# UPDATE_API_RULES=1 rewrites the list of accepted API rule violations (all in apimachinery today).
REPORT_ARGS=(--report-filename "${ROOT}/hack/api-rule-violations.list")
[[ "${UPDATE_API_RULES:-}" == 1 ]] && REPORT_ARGS+=(--update-report)

kube::codegen::gen_helpers --boilerplate "${BOILERPLATE}" "${ROOT}/apis"

kube::codegen::gen_openapi \
    --output-dir "${ROOT}/generated/openapi" \
    --output-pkg "${MODULE}/generated/openapi" \
    --output-model-name-file zz_generated.model_name.go \
    "${REPORT_ARGS[@]}" \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/apis"

kube::codegen::gen_client \
    --with-watch \
    --with-applyconfig \
    --output-dir "${ROOT}/generated" \
    --output-pkg "${MODULE}/generated" \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/apis"
