#!/usr/bin/env bash
# Chromium for the browser tests (tests/e2e): Debian's `chromium` package, plus `dbus-daemon`
# for the private session bus the tests show notifications on. Installs only what is missing;
# Playwright drives this browser (it never downloads one of its own).
#
#   browser.sh          install when missing, then print the browser's version
set -euo pipefail

CHROMIUM=/usr/bin/chromium

as_root_or_sudo() {
  if [[ $(id -u) == 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else return 1
  fi
}

missing=()
[[ -x $CHROMIUM ]] || missing+=(chromium)
command -v dbus-daemon >/dev/null || missing+=(dbus-daemon)
if ((${#missing[@]})); then
  command -v apt-get >/dev/null ||
    { echo "browser: install ${missing[*]} (no apt-get here)" >&2; exit 1; }
  echo "browser: installing ${missing[*]} from the OS packages"
  export DEBIAN_FRONTEND=noninteractive
  as_root_or_sudo apt-get update -qq >/dev/null &&
    as_root_or_sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { echo "browser: installing ${missing[*]} failed" >&2; exit 1; }
fi
echo "browser: $("$CHROMIUM" --version 2>/dev/null)"
