#!/usr/bin/env bash
# Install the Debian packages domu-forge needs on a Dom0 (scripts/debian-packages.txt).
#   --tests  also what only the test suite needs (scripts/debian-test-packages.txt)
#   --rpm    also rpm and dnf, for building Red Hat family guests
# Run as root on Debian 12. Safe to run again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lists=("$here/debian-packages.txt")
extra=()
for arg in "$@"; do
  case "$arg" in
    --tests) lists+=("$here/debian-test-packages.txt") ;;
    --rpm) extra+=(rpm dnf) ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "setup-host.sh: unknown option $arg (expected --tests, --rpm)" >&2; exit 2 ;;
  esac
done
mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "${lists[@]}")
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${pkgs[@]}" "${extra[@]}"
