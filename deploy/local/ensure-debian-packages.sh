#!/usr/bin/env bash
# Installs the Debian packages that are missing, idempotently.
# Usage: ensure-debian-packages.sh WHAT=PACKAGE ...
#   WHAT is a command looked up on PATH, or a shared library name (lib*.so*) looked up with ldconfig.
# Needs root or passwordless sudo when something is missing; otherwise says what to install and fails.
set -euo pipefail

missing=()
for pair in "$@"; do
  what=${pair%%=*}
  package=${pair#*=}
  case "$what" in
    lib*.so*) ldconfig -p 2>/dev/null | grep -q "$what" || missing+=("$package") ;;
    *) command -v "$what" >/dev/null 2>&1 || missing+=("$package") ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo"
else
  echo "FakeWeb needs these Debian packages: ${missing[*]}" >&2
  echo "Install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} ..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
