#!/bin/bash
# install-deps.sh - install the Debian 12 packages the project builds, tests
# and runs with. Idempotent and fast when nothing is missing: installed
# packages are skipped (dpkg-query), and `apt-get update` runs at most once, only
# when something must be installed and the package lists are missing or older
# than a day. Runs as root, or through sudo when available.
set -euo pipefail

PKGS=(build-essential cmake pkg-config clang git
      libcunit1-dev libsnappy-dev libfuse3-dev fuse3 libxml2-dev
      libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev
      protobuf-c-compiler libprotobuf-c-dev
      zookeeper libzookeeper-mt-dev
      librocksdb-dev python3-minimal
      iproute2 procps)

missing=()
for p in "${PKGS[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Fresh lists: some Packages index younger than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
  echo "install-deps: apt-get update"
  "${SUDO[@]}" apt-get update -qq
fi
echo "install-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
