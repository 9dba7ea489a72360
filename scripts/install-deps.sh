#!/bin/bash
# install-deps.sh - install the Debian packages the project builds, tests and
# runs with. Idempotent: packages already installed are skipped, and the
# package lists are refreshed only when something is missing.
set -euo pipefail

PKGS=(build-essential cmake pkg-config clang git
      libcunit1-dev libsnappy-dev libfuse3-dev fuse3 libxml2-dev
      libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev
      protobuf-c-compiler libprotobuf-c-dev
      zookeeper libzookeeper-mt-dev
      iproute2 procps psmisc)

missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
