#!/usr/bin/env bash
# Offline checks of the deployment files (`make deploy-check`, run by .ci/run). Nothing is
# deployed and no container engine, cluster or cloud account is needed: the tools come from
# PyPI (into their own venv, .venv/deploy, so checkov's pins never meet the project's) and
# promtool from Debian's prometheus package.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv/deploy
PINS="checkov==3.3.30 kubernetes-validate==1.37.0 yamllint==1.38.0"
# The Kubernetes minor version of the AKS cluster (deploy/terraform/variables.tf).
K8S_VERSION=1.34.0

step() { printf '\n== %s\n' "$*"; }
# This machine's pip config names local wheel folders that may not exist: drop that noise.
quiet_pip() { "$VENV/bin/pip" "$@" 2>&1 | sed '/is ignored: it is neither a file nor a directory/d'; }

step "tools: $PINS (in $VENV)"
if [ ! -f "$VENV/.installed-stamp" ] || [ "$(cat "$VENV/.installed-stamp")" != "$PINS" ]; then
  test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
  quiet_pip install -q --disable-pip-version-check $PINS
  echo "$PINS" > "$VENV/.installed-stamp"
fi
if ! command -v promtool >/dev/null; then
  # Debian's prometheus package ships /usr/bin/promtool. No recommends: the node exporter
  # would be a second daemon. (Package scripts do not start services in containers.)
  if [ "$(id -u)" != 0 ]; then
    echo "promtool is missing: apt-get install --no-install-recommends prometheus" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version 2>&1 | head -1

step "yamllint"
"$VENV/bin/yamllint" -s -c .yamllint deploy .yamllint

step "kubernetes-validate --strict (Kubernetes $K8S_VERSION), every manifest file"
mapfile -t manifests < <(find deploy/k8s -name '*.yaml' ! -name kustomization.yaml | sort)
"$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "${manifests[@]}"
echo "${#manifests[@]} files valid"
if command -v kubectl >/dev/null; then
  # Also the rendered overlays, when this machine happens to have kubectl (kustomize built in).
  for overlay in deploy/k8s/overlays/*/; do
    kubectl kustomize "$overlay" | "$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" -
    echo "$overlay renders and validates"
  done
fi

step "checkov (dockerfile, kubernetes, terraform): no failed check"
"$VENV/bin/checkov" -d deploy --framework dockerfile,kubernetes,terraform \
  --skip-download --compact --quiet

step "promtool"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The scrape credential is a mounted file in production; promtool wants it to exist.
cp deploy/monitoring/prometheus.yml deploy/monitoring/alerts.yml "$work/"
mkdir "$work/secrets" && echo placeholder > "$work/secrets/supportbot-token"
promtool check config "$work/prometheus.yml"
promtool check rules deploy/monitoring/alerts.yml
promtool test rules deploy/monitoring/tests/alerts_test.yml

step "monitoring queries use the metrics the API exports"
"$VENV/bin/python" deploy/check_monitoring.py "$work/dashboard-rules.yml"
promtool check rules "$work/dashboard-rules.yml"

if command -v terraform >/dev/null; then
  step "terraform fmt (this machine has terraform)"
  TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive deploy/terraform
fi

printf '\ndeploy-check: all checks passed\n'
