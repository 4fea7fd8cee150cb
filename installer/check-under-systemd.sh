#!/usr/bin/env bash
# Install the terminal into a fresh Debian or Ubuntu root and boot it under real systemd
# (systemd-nspawn), then check what a technician relies on:
#   the unit starts (Type=notify: READY=1 reached systemd), enrolment with a cloud on this
#   machine, a sale through the POS API reaching that cloud, the watchdog restarting a
#   frozen agent, and an upgrade (install-terminal.sh again) that keeps the sale.
#
#   sudo installer/check-under-systemd.sh                     # Debian 12, this machine's arch
#   sudo installer/check-under-systemd.sh --suite noble       # Ubuntu 24.04
#   sudo installer/check-under-systemd.sh --arch arm64        # under qemu-user (slow)
#
# Options:
#   --suite S   bookworm (default), trixie, jammy or noble
#   --arch A    amd64 or arm64 (default: this machine's); a foreign one runs under qemu
#   --root DIR  where the guest lives (default /var/tmp/vafa-<suite>-<arch>); kept between
#               runs, so a second run skips debootstrap
# Needs root, network to the distribution's mirror and to PyPI, and this repository's
# .venv (make test builds it) for the cloud. Not part of `make test`: it takes minutes.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=bookworm
arch=$(dpkg --print-architecture)
root=""
port=0
nspawn_log=""

say() { echo "check-under-systemd: $*"; }
die() { echo "check-under-systemd: FAILED: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --suite) suite=$2; shift ;;
        --arch) arch=$2; shift ;;
        --root) root=$2; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done
root=${root:-/var/tmp/vafa-$suite-$arch}
[[ $(id -u) == 0 ]] || die "run as root"
[[ -x $src/.venv/bin/vafa-cloud ]] || die "no $src/.venv: run make test (or make demo) first"

host_packages() {
    local wanted=(debootstrap systemd-container)
    [[ $arch != "$(dpkg --print-architecture)" ]] && wanted+=(qemu-user-static binfmt-support)
    local missing=()
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
    fi
    if [[ $arch != "$(dpkg --print-architecture)" ]]; then
        [[ -e /proc/sys/fs/binfmt_misc/register ]] ||
            mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
        update-binfmts --enable "qemu-$( [[ $arch == arm64 ]] && echo aarch64 || echo "$arch")" || true
    fi
}

# Ubuntu's archive key, for debootstrap to check what it downloads. Debian 12 does not
# package it, so it is taken from Ubuntu's own keyring package (trusted on first use: a
# throwaway test root, never a terminal's).
ubuntu_keyring() {
    local system=/usr/share/keyrings/ubuntu-archive-keyring.gpg
    [[ -f $system ]] && { echo "$system"; return; }
    local dir=/var/tmp/vafa-ubuntu-keyring
    if [[ ! -f $dir/usr/share/keyrings/ubuntu-archive-keyring.gpg ]]; then
        mkdir -p "$dir"
        curl -fsSL -o "$dir/keyring.deb" \
            http://archive.ubuntu.com/ubuntu/pool/main/u/ubuntu-keyring/ubuntu-keyring_2023.11.28.1_all.deb
        dpkg-deb -x "$dir/keyring.deb" "$dir"
    fi
    echo "$dir/usr/share/keyrings/ubuntu-archive-keyring.gpg"
}

make_root() {
    [[ -x $root/usr/bin/python3 && -d $root/lib/systemd ]] && { say "reusing $root"; return; }
    local mirror keyring=() script=()
    case $suite in
        bookworm | trixie) mirror=http://deb.debian.org/debian ;;
        jammy | noble)
            mirror=http://archive.ubuntu.com/ubuntu
            [[ $arch == amd64 ]] || mirror=http://ports.ubuntu.com/ubuntu-ports
            keyring=(--keyring="$(ubuntu_keyring)" "--components=main,universe")
            script=(/usr/share/debootstrap/scripts/gutsy) ;;  # every Ubuntu since 7.10
        *) die "unknown suite $suite" ;;
    esac
    say "debootstrap $suite $arch into $root (a few minutes)"
    debootstrap --variant=minbase --arch="$arch" "${keyring[@]}" \
        --include=systemd,systemd-sysv,dbus,udev,procps,python3,python3-venv,ca-certificates \
        "$suite" "$root" "$mirror" "${script[@]}" >"$root.debootstrap.log" 2>&1 ||
        die "debootstrap failed: see $root.debootstrap.log"
}

# A machine behind a TLS-inspecting proxy trusts its CA: so must the guest.
trust_like_host() {
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
        chroot "$root" update-ca-certificates >/dev/null 2>&1
    fi
    [[ -f /etc/pip.conf ]] && cp /etc/pip.conf "$root/etc/pip.conf"
    return 0
}

install_in_root() {
    rm -rf "$root/root/vafa" "$root/var/lib/vafa"  # the cloud is new each run: so is the ledger
    git clone -q "$src" "$root/root/vafa"
    say "install-terminal.sh in the guest (builds /opt/vafa/venv from PyPI)"
    chroot "$root" bash -c 'cd /root/vafa && apt-get update -q >/dev/null &&
        bash installer/install-terminal.sh' >"$root.install.log" 2>&1 ||
        die "install-terminal.sh failed: see $root.install.log"
}

cloud() { "$src/.venv/bin/vafa-cloud" --instance "$root.cloud" "$@"; }

start_cloud() {
    rm -rf "$root.cloud"
    mkdir -p "$root.cloud"
    cloud migrate >/dev/null
    code=$(cloud store create --name "شعبه آزمون" | sed -n 's/.*"enrolment_code": "\([^"]*\)".*/\1/p')
    [[ -n $code ]] || die "no enrolment code from vafa-cloud"
    port=$("$src/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # The binary itself in the background (not the shell function), so cleanup can stop it.
    "$src/.venv/bin/vafa-cloud" --instance "$root.cloud" serve --port "$port" \
        >"$root.cloud/serve.log" 2>&1 &
    cloud_pid=$!
    for _ in $(seq 50); do
        curl -fs -o /dev/null "http://127.0.0.1:$port/openapi.json" && return
        sleep 0.2
    done
    die "the cloud did not start: see $root.cloud/serve.log"
}

boot() {
    nspawn_log=$root.boot.log
    systemd-nspawn --register=no --keep-unit -D "$root" -b --console=pipe >"$nspawn_log" 2>&1 &
    nspawn_pid=$!
    local wait=120
    [[ $arch == "$(dpkg --print-architecture)" ]] || wait=900  # emulated: a slow boot
    for _ in $(seq "$wait"); do
        guest_init=$(pgrep -P "$nspawn_pid" | head -1 || true)
        if [[ -n $guest_init ]] && state=$(in_guest systemctl is-system-running 2>/dev/null); then
            [[ $state == running || $state == degraded ]] && return
        fi
        sleep 1
    done
    die "the guest did not boot: see $nspawn_log"
}

in_guest() { nsenter -t "$guest_init" -a "$@"; }
agent() { in_guest runuser -u vafa -- /opt/vafa/venv/bin/vafa-agent --config /etc/vafa/agent.toml "$@"; }

wait_active() {
    for _ in $(seq 60); do
        [[ $(in_guest systemctl is-active vafa-agent || true) == active ]] && return
        sleep 1
    done
    in_guest journalctl -u vafa-agent --no-pager -n 30 >&2 || true
    die "vafa-agent is not active"
}

cloud_sales() { cloud totals | sed -n 's/.*"sales": \([0-9]*\).*/\1/p'; }

cleanup() {
    if [[ -n ${guest_init:-} ]]; then in_guest systemctl poweroff >/dev/null 2>&1 || true; fi
    [[ -n ${cloud_pid:-} ]] && kill "$cloud_pid" 2>/dev/null
    [[ -n ${nspawn_pid:-} ]] && wait "$nspawn_pid" 2>/dev/null
    return 0
}
trap cleanup EXIT

host_packages
make_root
trust_like_host
install_in_root
start_cloud
boot
guest_os=$(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' "$root/etc/os-release")
say "booted $guest_os under systemd $(in_guest systemctl --version | head -1 | cut -d' ' -f2)"
wait_active
say "ok: vafa-agent.service is active (Type=notify: READY=1 reached systemd)"

agent enroll --cloud "http://127.0.0.1:$port" --code "$code" >/dev/null
in_guest systemctl restart vafa-agent
wait_active
agent member add --mobile 09121234567 --name "سارا احمدی" --consent >/dev/null
token=$(in_guest cat /var/lib/vafa/pos-api.token)
for _ in $(seq 30); do  # waitress may still be binding its port
    curl -fs -X POST -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
        -d '{"member": "09121234567", "amount_rial": 1500000}' \
        "http://127.0.0.1:8300/pos/v1/sales" >/dev/null && break
    sleep 1
done
for _ in $(seq 60); do [[ $(cloud_sales) == 1 ]] && break; sleep 1; done
[[ $(cloud_sales) == 1 ]] || die "the sale did not reach the cloud"
say "ok: enrolled; a sale through the POS API reached the cloud by the service's own sync"

frozen=$(in_guest systemctl show -p MainPID --value vafa-agent)
in_guest sh -c "kill -STOP $frozen"
say "froze the agent (pid $frozen); WatchdogSec=60 should restart it"
for _ in $(seq 120); do
    now=$(in_guest systemctl show -p MainPID --value vafa-agent)
    [[ $now != "$frozen" && $now != 0 ]] && break
    sleep 1
done
watchdog_fired() { in_guest journalctl -u vafa-agent --no-pager | grep -q "Failed with result 'watchdog'"; }
for _ in $(seq 10); do watchdog_fired && break; sleep 1; done  # journald may lag a moment
if ! watchdog_fired; then
    in_guest journalctl -u vafa-agent --no-pager -n 30 >&2 || true
    die "the watchdog did not fire"
fi
wait_active
say "ok: the watchdog killed the frozen agent and systemd started it again"

say "upgrade: install-terminal.sh again on the running guest"
in_guest bash -c 'cd /root/vafa && bash installer/install-terminal.sh' >"$root.upgrade.log" 2>&1 ||
    die "the upgrade failed: see $root.upgrade.log"
wait_active
agent ledger verify >/dev/null || die "ledger verify failed after the upgrade"
sales=$(in_guest /opt/vafa/venv/bin/python -c 'import sqlite3; print(sqlite3.connect("file:/var/lib/vafa/ledger.sqlite3?mode=ro", uri=True).execute("SELECT COUNT(*) FROM sales").fetchone()[0])')
[[ $sales == 1 ]] || die "the terminal holds $sales sales after the upgrade, not 1"
[[ $(in_guest stat -c %a /var/lib/vafa) == 700 ]] || die "/var/lib/vafa is not 0700"
say "ok: upgraded with the agent restarted, ledger verified, the sale kept"
say "all checks passed on $suite $arch"
