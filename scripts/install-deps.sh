#!/usr/bin/env bash
# Installs the Debian packages hotline's tests or demo need, if missing.
# Usage: scripts/install-deps.sh test|demo
#
# Sounds: asterisk-core-sounds-{ru,en}-wav hold the files (in
# /usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU and en_US_f_Allison);
# asterisk-core-sounds-{ru,en} make the links ru, ru_RU, en and en_US that
# hotline's config names. The -wav packages only recommend the others, and we
# install without recommends, so both are listed.
set -euo pipefail
sounds=(asterisk-core-sounds-ru asterisk-core-sounds-ru-wav asterisk-core-sounds-en asterisk-core-sounds-en-wav asterisk-moh-opsound-wav)
case "${1:-test}" in
  demo) pkgs=(postgresql "${sounds[@]}" espeak-ng sox) ;;
  test) pkgs=(postgresql "${sounds[@]}" espeak-ng sox sip-tester baresip prometheus tcpdump chromium firefox-esr kamailio) ;;
  *) echo "usage: $0 test|demo" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "hotline needs these Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# What the example config, the demo and the tests read: fail here, with the
# package, rather than in a test with a stat error.
for d in /usr/share/asterisk/sounds/ru /usr/share/asterisk/sounds/en /usr/share/asterisk/moh; do
  [[ -d $d ]] || { echo "install-deps: $d is missing although its package is installed; reinstall it: apt-get install --reinstall ${sounds[*]}" >&2; exit 1; }
done
# The agent's desk tests drive headless Chromium and Firefox (docs/desk.md).
if [[ ${1:-test} == test ]] && ! command -v chromium >/dev/null; then
  echo "install-deps: chromium is installed but not on PATH (/usr/bin/chromium); reinstall it: apt-get install --reinstall chromium" >&2
  exit 1
fi
if [[ ${1:-test} == test ]] && ! command -v firefox-esr >/dev/null; then
  echo "install-deps: firefox-esr is installed but not on PATH (/usr/bin/firefox-esr); reinstall it: apt-get install --reinstall firefox-esr" >&2
  exit 1
fi
