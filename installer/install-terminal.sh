#!/usr/bin/env bash
# Install or upgrade the Vafa checkout terminal on Debian, Ubuntu or Raspberry Pi OS
# (amd64, arm64; Python 3.11 or newer).
#
#   sudo installer/install-terminal.sh [--kiosk]      # on the terminal itself
#   DESTDIR=/tmp/root installer/install-terminal.sh --no-venv   # into a staging root
#
# It creates the system user `vafa` (groups dialout, input, lp), the application in a
# virtual environment at /opt/vafa/venv, /etc/vafa/agent.toml from installer/agent.toml,
# the data folder /var/lib/vafa (0700, owned by vafa), the systemd unit vafa-agent.service
# (and vafa-kiosk.service with --kiosk), and udev rules generated from firmware_profiles/.
#
# Rerunning it upgrades: the code is replaced; /etc/vafa/agent.toml and /var/lib/vafa are
# kept; the agent is stopped, the ledger migrates when it is opened, and
# `vafa-agent ledger verify` checks every sale before the agent starts again.
#
# Under DESTDIR nothing outside DESTDIR changes: what needs root on the real system (users,
# owners, systemctl, udevadm, apt) is written to $DESTDIR/vafa-root-actions instead.
#
# Options:
#   --no-venv   do not build /opt/vafa/venv (tests, packagers); VAFA_SKIP_VENV=1 does the same.
#               Commands then run with $VAFA_PYTHON (default python3) on this source tree.
#   --kiosk     also install the cashier screen: cage, xwayland, chromium, the vafa-kiosk user
#               and unit.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=${DESTDIR:-}
root=${root%/}
skip_venv=${VAFA_SKIP_VENV:-0}
python=${VAFA_PYTHON:-python3}
kiosk=0

prefix=/opt/vafa
venv=$prefix/venv
etc=/etc/vafa
data=/var/lib/vafa
units=/etc/systemd/system
rules=/etc/udev/rules.d/70-vafa.rules
actions=$root/vafa-root-actions

say() { echo "install-terminal: $*"; }
die() { echo "install-terminal: $*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

# Run a command that changes the host as root; under DESTDIR record it instead.
as_root() {
    if [[ -n $root ]]; then
        printf '%s\n' "$*" >>"$actions"
    else
        "$@"
    fi
}

parse_args() {
    while (($#)); do
        case $1 in
            --no-venv) skip_venv=1 ;;
            --kiosk) kiosk=1 ;;
            -h | --help) usage; exit 0 ;;
            *) echo "install-terminal: unknown option $1" >&2; usage >&2; exit 2 ;;
        esac
        shift
    done
}

check_host() {
    if [[ -z $root && $(id -u) -ne 0 ]]; then
        die "run as root (sudo), or set DESTDIR to install into a staging folder"
    fi
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$python is older than 3.11 (needed for tomllib); use Debian 12, Ubuntu 24.04 or newer"
    if [[ -n $root ]]; then
        mkdir -p "$root"
        : >"$actions"
    fi
}

install_packages() {
    # Ubuntu (24.04) has no chromium deb, only a transitional package for the snap, which
    # cannot run under the kiosk unit: say so before changing anything.
    # (apt-cache show succeeds there: chromium-browser provides the name.)
    if ((kiosk)) && [[ -z $root ]] &&
        [[ $(apt-cache policy chromium | sed -n 's/^ *Candidate: //p') =~ ^(\(none\))?$ ]]; then
        die "--kiosk needs Debian's chromium package (Debian 12, Raspberry Pi OS); this system has none (Ubuntu ships Chromium as a snap only)"
    fi
    as_root bash "$src/installer/system-packages.sh" terminal
    if ((kiosk)); then
        # xwayland: cage (0.1.4, Debian 12) exits at start when it cannot run Xwayland.
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            cage xwayland chromium
    fi
}

ensure_group() {
    if [[ -n $root ]] || ! getent group "$1" >/dev/null; then
        as_root groupadd --system --force "$1"
    fi
}

create_users() {
    local group
    for group in dialout input lp; do ensure_group "$group"; done
    if [[ -n $root ]] || ! getent passwd vafa >/dev/null; then
        as_root useradd --system --user-group --home-dir "$data" --no-create-home \
            --shell /usr/sbin/nologin vafa
    fi
    as_root usermod --append --groups dialout,input,lp vafa
    if ((kiosk)); then
        for group in video render; do ensure_group "$group"; done
        if [[ -n $root ]] || ! getent passwd vafa-kiosk >/dev/null; then
            as_root useradd --system --user-group --create-home --home-dir /var/lib/vafa-kiosk \
                --shell /usr/sbin/nologin vafa-kiosk
        fi
        as_root usermod --append --groups video,render,input vafa-kiosk
    fi
}

stop_agent() {
    if [[ -z $root ]] && systemctl is-active --quiet vafa-agent.service; then
        say "stopping vafa-agent for the upgrade"
        systemctl stop vafa-agent.service
    fi
}

install_app() {
    install -d -m 0755 "$root$prefix"
    if ((skip_venv)); then
        say "skipping the virtual environment (--no-venv)"
        return
    fi
    say "building $venv (pip install from $src)"
    "$python" -m venv "$root$venv"
    "$root$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$root$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$src"
}

# Run the agent's Python: the venv's, or with --no-venv $VAFA_PYTHON on this source tree.
agent_python() {
    if [[ -x $root$venv/bin/python ]]; then
        "$root$venv/bin/python" "$@"
    else
        PYTHONPATH="$src${PYTHONPATH:+:$PYTHONPATH}" "$python" "$@"
    fi
}

install_config() {
    install -d -m 0755 "$root$etc"
    # The example is replaced on every run so an upgrade shows new settings next to the file.
    install -m 0644 "$src/installer/agent.toml" "$root$etc/agent.toml.example"
    if [[ -e $root$etc/agent.toml ]]; then
        say "keeping $etc/agent.toml (new settings, if any, are in agent.toml.example)"
    else
        install -m 0640 "$src/installer/agent.toml" "$root$etc/agent.toml"
        as_root chgrp vafa "$etc/agent.toml"
    fi
}

install_data_dir() {
    install -d -m 0700 "$root$data"
    as_root chown -R vafa:vafa "$data"
}

install_units() {
    install -d -m 0755 "$root$units"
    install -m 0644 "$src/installer/systemd/vafa-agent.service" "$root$units/vafa-agent.service"
    if ((kiosk)); then
        install -m 0644 "$src/installer/systemd/vafa-kiosk.service" "$root$units/vafa-kiosk.service"
    fi
    install -m 0755 "$src/installer/uninstall-terminal.sh" "$root$prefix/uninstall-terminal.sh"
}

install_udev_rules() {
    local generated
    install -d -m 0755 "$root$(dirname "$rules")"
    generated=$(mktemp)
    agent_python -m agent.udev_rules --output "$generated"
    install -m 0644 "$generated" "$root$rules"
    rm -f "$generated"
}

# An upgrade: open the kept ledger with the new code (it migrates) and replay it.
verify_ledger() {
    [[ -e $root$data/ledger.sqlite3 ]] || return 0
    say "checking the kept ledger with the new code (vafa-agent ledger verify)"
    if [[ -n $root ]]; then
        agent_python -m agent --config "$root$etc/agent.toml" --data-dir "$root$data" ledger verify
    else
        local -a agent=("$venv/bin/vafa-agent")
        [[ -x ${agent[0]} ]] || agent=(env "PYTHONPATH=$src" "$python" -m agent)
        # As vafa: a migration run as root would leave root-owned files the service cannot open.
        runuser -u vafa -- "${agent[@]}" --config "$etc/agent.toml" ledger verify
    fi
}

start_services() {
    local -a units=(vafa-agent.service)
    if ((kiosk)); then units+=(vafa-kiosk.service); fi
    # No udevd (a chroot, an image being built): the rules apply at the next boot.
    as_root udevadm control --reload-rules || say "udev is not running: rules apply at next boot"
    as_root udevadm trigger --action=add --subsystem-match=tty --subsystem-match=input \
        --subsystem-match=usbmisc --subsystem-match=usb || true
    if [[ -z $root && ! -d /run/systemd/system ]]; then
        systemctl enable "${units[@]}"
        say "systemd is not running here (a chroot or an image): ${units[*]} start at boot"
        return
    fi
    as_root systemctl daemon-reload
    as_root systemctl enable "${units[@]}"
    as_root systemctl restart "${units[@]}"
}

main() {
    parse_args "$@"
    check_host
    install_packages
    create_users
    stop_agent
    install_app
    install_config
    install_data_dir
    install_udev_rules
    install_units
    verify_ledger
    start_services
    say "done. Next: vafa-agent enroll --cloud URL --code CODE; then vafa-agent doctor"
}

main "$@"
