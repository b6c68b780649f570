#!/usr/bin/env bash
# Builds Flux's real helm-controller from its module source, in its own directory: it has its own
# k8s.io dependencies, which must not mix with the project's modules. The module proxy serves
# github.com/fluxcd/helm-controller at v1.4.0; its go.mod replaces the api module with ./api, which
# the module zip lacks, so the build uses the published api module of the same version instead.
#
#   hack/build-helm-controller.sh OUTPUT     (default bin/helm-controller)
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VERSION=v1.4.0
MODULE=github.com/fluxcd/helm-controller
OUT="${1:-bin/helm-controller}"
STAMP="${OUT}.version"
if [[ -x "${OUT}" && "$(cat "${STAMP}" 2>/dev/null)" == "${VERSION}" ]]; then
    exit 0
fi

export GOWORK=off GOFLAGS=-mod=mod
src="$(go mod download -json "${MODULE}@${VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "${src}" ]]; then
    echo "could not download ${MODULE}@${VERSION}" >&2
    exit 1
fi
build=".build/helm-controller-${VERSION}"
rm -rf "${build}"
mkdir -p "$(dirname "${build}")"
cp -r "${src}" "${build}"
chmod -R u+w "${build}"
(
    cd "${build}"
    go mod edit -dropreplace "${MODULE}/api"
    go get "${MODULE}/api@${VERSION}"
    go build -o helm-controller .
)
mkdir -p "$(dirname "${OUT}")"
mv "${build}/helm-controller" "${OUT}"
echo "${VERSION}" > "${STAMP}"
rm -rf "${build}"
echo "built ${OUT} (${MODULE} ${VERSION})"
