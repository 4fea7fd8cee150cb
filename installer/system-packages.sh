#!/usr/bin/env bash
# Install the Debian packages Vafa needs, only those missing, without starting any service.
#   bash installer/system-packages.sh runtime   # receipt font and Pillow's text layout
#   bash installer/system-packages.sh terminal  # runtime + what install-terminal.sh builds with
#   bash installer/system-packages.sh test      # runtime + PostgreSQL, Chromium and linters
# A second run installs nothing and needs no network.
set -euo pipefail

# fonts-farsiweb: Nazli, the Persian receipt font (also gives Chromium its Persian glyphs).
# libfribidi0 + libraqm0: Pillow's raqm layout loads them at run time to shape Persian.
runtime=(fonts-farsiweb libfribidi0 libraqm0)
# python3-venv: /opt/vafa/venv; gcc + python3-dev: evdev is published as source only.
# libusb-1.0-0: pyusb's backend for printers on the usb transport (no usblp node).
terminal=(python3-venv python3-dev gcc libusb-1.0-0)
# postgresql: server binaries for the tests' throwaway clusters (/usr/lib/postgresql/*/bin).
# chromium: Debian's browser, driven headless by Playwright at /usr/bin/chromium.
# systemd: systemd-analyze verifies the installer's units; shellcheck lints its scripts.
# nginx-light: serves installer/cloud/nginx-vafa.conf for the TLS proxy test.
test=(postgresql chromium systemd shellcheck nginx-light)

case "${1:-}" in
    runtime) wanted=("${runtime[@]}") ;;
    terminal) wanted=("${runtime[@]}" "${terminal[@]}") ;;
    test) wanted=("${runtime[@]}" "${test[@]}") ;;
    *) echo "usage: $0 runtime|terminal|test" >&2; exit 2 ;;
esac

is_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for package in "${wanted[@]}"; do
    is_installed "$package" || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

as_root=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "system-packages: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    as_root=(sudo)
fi

# Debian's policy-rc.d hook: exit code 101 forbids maintainer scripts from starting services
# (the postgresql package would otherwise start a cluster on port 5432).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    trap '"${as_root[@]}" rm -f "$policy"' EXIT
fi

echo "system-packages: installing ${missing[*]}"
if ! "${as_root[@]}" apt-get update -qq \
    || ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "system-packages: FAILED to install: ${missing[*]} (see apt-get's message above)" >&2
    exit 1
fi
for package in "${missing[@]}"; do
    is_installed "$package" || { echo "system-packages: $package is still not installed" >&2; exit 1; }
done
