#!/usr/bin/env bash
# Installs the Debian packages hotline's tests or demo need, if missing.
# Usage: scripts/install-deps.sh test|demo
set -euo pipefail
case "${1:-test}" in
  demo) pkgs=(postgresql asterisk-core-sounds-ru-wav asterisk-core-sounds-en-wav asterisk-moh-opsound-wav espeak-ng sox) ;;
  test) pkgs=(postgresql asterisk-core-sounds-ru-wav asterisk-core-sounds-en-wav asterisk-moh-opsound-wav espeak-ng sox sip-tester baresip prometheus tcpdump) ;;
  *) echo "usage: $0 test|demo" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "hotline needs these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
