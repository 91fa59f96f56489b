#!/usr/bin/env bash
# Writes a CycloneDX 1.6 SBOM (JSON) of every runtime package of the images: the Node production
# dependencies that `npm ci --omit=dev` installs from package-lock.json on linux/x64 (listed from
# the lock by @cyclonedx/cyclonedx-npm; optional packages of other platforms left out), and the
# trainer's Python packages from training/requirements.lock (cyclonedx-bom's cyclonedx-py). Both generators are pinned and installed into
# .cache/sbom-tools on first use (npm registry and PyPI).
#   bash scripts/sbom.sh [OUT]        default OUT: dist/sbom.cdx.json
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/sbom.cdx.json}
CYCLONEDX_NPM_VERSION=6.0.1
CYCLONEDX_PY_VERSION=7.5.0
tools=.cache/sbom-tools
mkdir -p "$tools" "$(dirname "$out")"
if [ "$("$tools/node_modules/.bin/cyclonedx-npm" --version 2>/dev/null)" != "$CYCLONEDX_NPM_VERSION" ]; then
  npm install --prefix "$tools" --no-audit --no-fund --silent --no-save "@cyclonedx/cyclonedx-npm@$CYCLONEDX_NPM_VERSION"
fi
if ! "$tools/venv/bin/pip" show cyclonedx-bom 2>/dev/null | grep -qx "Version: $CYCLONEDX_PY_VERSION"; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet "cyclonedx-bom==$CYCLONEDX_PY_VERSION"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$tools/node_modules/.bin/cyclonedx-npm" --package-lock-only --omit dev --flatten-components --short-PURLs \
  --spec-version 1.6 --output-format JSON --output-file "$work/node.cdx.json" package.json
"$tools/venv/bin/cyclonedx-py" requirements training/requirements.lock --pyproject training/pyproject.toml \
  --mc-type library --short-PURLs --sv 1.6 --of JSON -o "$work/python.cdx.json" 2> >(grep -v 'UserWarning\|warn(' >&2)
node scripts/sbom-merge.mjs "$work/node.cdx.json" "$work/python.cdx.json" package-lock.json "$out"
