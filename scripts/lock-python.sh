#!/usr/bin/env bash
# Writes the hashed locks of the Python kernel (training/): every package, direct and transitive,
# pinned, with the sha256 of every file PyPI has for that version, resolved for CPython 3.11 on
# linux x86_64 (manylinux_2_28, the image's and CI's platform):
#   training/requirements.lock       the kernel's runtime dependencies (the trainer image, the SBOM)
#   training/requirements-test.lock  the same plus the test extra (scripts/setup.sh)
# Installed with `pip install --require-hashes -r ...` and then `pip install --no-deps -e training`.
# The resolver is uv (pinned below), installed into .cache/lock-tools on first use.
#
#   bash scripts/lock-python.sh                 resolve the newest versions pyproject.toml allows
#   bash scripts/lock-python.sh -c FILE         ... within constraints (e.g. `pip freeze` of a tested venv)
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.8
# The pip that scripts/setup.sh and the trainer image install the locks with.
PIP_VERSION=26.3
tools=.cache/lock-tools
if [ ! -x "$tools/bin/uv" ] || [ "$("$tools/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet "uv==$UV_VERSION"
fi
header() {
  printf '# %s: hashed lock of the kernel%s for CPython 3.11, linux x86_64.\n' "$1" "$2"
  printf '# Written by scripts/lock-python.sh (uv %s); install with pip install --require-hashes -r %s\n' "$UV_VERSION" "$1"
}
compile() {
  local out=$1 extra=$2 label=$3
  shift 3
  local tmp
  tmp=$(mktemp)
  # PIP_FIND_LINKS (a local wheel folder) would put files that are not on PyPI into the lock.
  # pip and setuptools are locked too: the kernel itself is installed with --no-build-isolation,
  # so its build backend comes from the lock rather than an unhashed download.
  printf 'pip==%s\nsetuptools>=68\n' "$PIP_VERSION" | env -u PIP_FIND_LINKS "$tools/bin/uv" pip compile training/pyproject.toml - $extra --generate-hashes --no-annotate --no-header \
    --python-version 3.11 --python-platform x86_64-manylinux_2_28 --index-url https://pypi.org/simple "$@" -o "$tmp" --quiet
  { header "$out" "$label"; cat "$tmp"; } > "$out"
  rm -f "$tmp"
}
compile training/requirements.lock "" "" "$@"
compile training/requirements-test.lock "--extra test" " (with the test extra)" "$@"
echo "wrote training/requirements.lock ($(grep -c '^[a-z]' training/requirements.lock) packages) and training/requirements-test.lock ($(grep -c '^[a-z]' training/requirements-test.lock) packages)"
