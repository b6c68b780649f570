#!/usr/bin/env bash
# Fails when generated code is stale: regenerates into a scratch copy of the tree and compares.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "${SCRATCH}"' EXIT

tar -C "${ROOT}" --exclude=./.git --exclude=./bin --exclude=./.state -cf - . | tar -C "${SCRATCH}" -xf -
"${SCRATCH}/hack/update-codegen.sh" >/dev/null

status=0
for path in apis generated hack/api-rule-violations.list; do
    if ! diff -Naur "${ROOT}/${path}" "${SCRATCH}/${path}"; then
        status=1
    fi
done
if [[ ${status} -ne 0 ]]; then
    echo "Generated code is out of date: run hack/update-codegen.sh (make codegen)." >&2
    exit 1
fi
echo "Generated code is up to date."
