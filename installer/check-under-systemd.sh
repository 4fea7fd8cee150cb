#!/usr/bin/env bash
# Install the terminal into a fresh Debian or Ubuntu root and boot it under real systemd,
# then check what a technician relies on (installer/guest-checks.sh, run inside the guest):
#   the unit starts (Type=notify: READY=1 reached systemd), enrolment with a cloud on this
#   machine, a sale through the POS API reaching that cloud, the watchdog restarting a
#   frozen agent, and an upgrade (install-terminal.sh again) that keeps the sale; with
#   --kiosk also the cashier screen (cage + Chromium, headless) showing the till.
# This machine's architecture boots in a systemd-nspawn container; arm64 on an amd64 host
# boots a qemu-system-aarch64 virtual machine (TCG emulation, the root's own Debian kernel).
#
#   sudo installer/check-under-systemd.sh                     # Debian 12, this machine's arch
#   sudo installer/check-under-systemd.sh --kiosk             # ... and the kiosk unit
#   sudo installer/check-under-systemd.sh --suite noble       # Ubuntu 24.04
#   sudo installer/check-under-systemd.sh --arch arm64        # Debian 12 arm64 in qemu (slow)
#
# Options:
#   --suite S   bookworm (default), trixie, jammy or noble
#   --arch A    amd64 or arm64 (default: this machine's); a foreign one runs under qemu
#   --kiosk     install with --kiosk and check vafa-kiosk.service (cage runs headless:
#               a check-only drop-in; screenshots are copied out beside the root)
#   --root DIR  where the guest lives (default /var/tmp/vafa-<suite>-<arch>); kept between
#               runs, so a second run skips debootstrap
#   --reuse-install  skip install-terminal.sh (the root holds an install from an earlier run
#               with the same options): the ledger is emptied and installer/ copied again
# Needs root, network to the distribution's mirror and to PyPI, and this repository's
# .venv (make test builds it) for the cloud. Installs on the host what it lacks:
# debootstrap, systemd-container; for a foreign arch qemu-user-static, binfmt-support
# (to install into the root) and qemu-system-arm (to boot it). Not part of `make test`:
# it takes minutes (native) to an hour (emulated).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=bookworm
arch=$(dpkg --print-architecture)
root=""
port=0
kiosk=0
reuse_install=0

say() { echo "check-under-systemd: $*"; }
die() { echo "check-under-systemd: FAILED: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --suite) suite=$2; shift ;;
        --arch) arch=$2; shift ;;
        --root) root=$2; shift ;;
        --kiosk) kiosk=1 ;;
        --reuse-install) reuse_install=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done
root=${root:-/var/tmp/vafa-$suite-$arch}
native=$([[ $arch == "$(dpkg --print-architecture)" ]] && echo 1 || echo 0)
[[ $(id -u) == 0 ]] || die "run as root"
[[ -x $src/.venv/bin/vafa-cloud ]] || die "no $src/.venv: run make test (or make demo) first"

host_packages() {
    local wanted=(debootstrap systemd-container)
    ((native)) || wanted+=(qemu-user-static binfmt-support qemu-system-arm cpio)
    local missing=()
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
    if ((!native)); then
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
    # The working tree's installer/ over the clone: an edited unit or script is what is checked.
    cp -a "$src/installer/." "$root/root/vafa/installer/"
    local options=() extra=()
    ((kiosk)) && options+=(--kiosk)
    # qemu-system boots the root's own kernel, with make_initrd's initramfs: Debian's
    # (mkinitramfs, every module) takes over 30 minutes under qemu-user, so INITRD=No.
    ((native)) || extra+=(linux-image-arm64)
    say "install-terminal.sh ${options[*]} in the guest (builds /opt/vafa/venv from PyPI)"
    # shellcheck disable=SC2016  # $EXTRA and $OPTIONS expand in the guest
    chroot "$root" env EXTRA="${extra[*]}" OPTIONS="${options[*]}" INITRD=No bash -c 'cd /root/vafa &&
        apt-get update -q >/dev/null &&
        if [ -n "$EXTRA" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends $EXTRA; fi && bash installer/install-terminal.sh $OPTIONS' \
        >"$root.install.log" 2>&1 || die "install-terminal.sh failed: see $root.install.log"
    if ((kiosk)); then
        # No display, no VT in a container: cage gets wlroots' headless backend and software
        # rendering, and the unit's tty7 settings are dropped; Chromium opens its debugging
        # port for the screenshots. Everything else is the unit as installed.
        mkdir -p "$root/etc/systemd/system/vafa-kiosk.service.d"
        cat >"$root/etc/systemd/system/vafa-kiosk.service.d/check-headless.conf" <<'EOF2'
[Service]
Environment=WLR_BACKENDS=headless WLR_RENDERER=pixman WLR_LIBINPUT_NO_DEVICES=1
Environment=VAFA_KIOSK_FLAGS=--remote-debugging-port=9222
TTYPath=
StandardInput=null
TTYReset=no
TTYVHangup=no
TTYVTDisallocate=no
EOF2
    else
        rm -rf "$root/etc/systemd/system/vafa-kiosk.service.d"
    fi
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
    for _ in $(seq 300); do  # 60 s: the machine may be loaded
        curl -fs -o /dev/null "http://127.0.0.1:$port/openapi.json" && return
        sleep 0.2
    done
    die "the cloud did not start: see $root.cloud/serve.log"
}


guest_args() {
    local args=(--cloud "$1" --code "$code" --shots /var/tmp)
    ((kiosk)) && args+=(--kiosk)
    echo "${args[@]}"
}

boot_container() {
    systemd-nspawn --register=no --keep-unit -D "$root" -b --console=pipe >"$root.boot.log" 2>&1 &
    nspawn_pid=$!
    for _ in $(seq 120); do
        guest_init=$(pgrep -P "$nspawn_pid" | head -1 || true)
        if [[ -n $guest_init ]] && state=$(in_guest systemctl is-system-running 2>/dev/null); then
            [[ $state == running || $state == degraded ]] && return
        fi
        sleep 1
    done
    die "the guest did not boot: see $root.boot.log"
}

in_guest() { nsenter -t "$guest_init" -a "$@"; }

check_container() {
    boot_container
    local guest_os
    guest_os=$(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' "$root/etc/os-release")
    say "booted $guest_os in a container, systemd $(in_guest systemctl --version | head -1 | cut -d' ' -f2)"
    rm -f "$root"/var/tmp/vafa-kiosk-*.png
    # shellcheck disable=SC2046  # guest_args is a list of words without spaces
    in_guest bash /root/vafa/installer/guest-checks.sh $(guest_args "http://127.0.0.1:$port") |
        tee "$root.checks.log" | sed 's/^guest-checks: /check-under-systemd: guest: /'
    ((PIPESTATUS[0] == 0)) || die "the checks in the guest failed: see $root.checks.log"
}

# A minimal initramfs for the VM, from the root's own arm64 programs and modules: it loads
# virtio-pci, virtio-blk and ext4, mounts /dev/vda and hands over to systemd.
make_initrd() {
    local version=$1 out=$2 work program lib module
    work=$(mktemp -d)
    mkdir -p "$work/bin" "$work/dev" "$work/newroot" "$work/modules"
    for program in /bin/sh /usr/bin/kmod /bin/mount /sbin/switch_root /bin/sleep; do
        install -m 0755 "$root$(chroot "$root" readlink -f "$program")" "$work/bin/${program##*/}"
        for lib in $(chroot "$root" ldd "$program" | grep -o '/[^ ]*'); do
            install -D -m 0755 "$root$(chroot "$root" readlink -f "$lib")" "$work$lib"
        done
    done
    ln -s kmod "$work/bin/insmod"
    local modules=(crc16 mbcache jbd2 crc32c_generic ext4 virtio_pci_legacy_dev
        virtio_pci_modern_dev virtio_pci virtio_blk)
    for module in "${modules[@]}"; do
        cp "$(find "$root/lib/modules/$version" -name "$module.ko*" | head -1)" "$work/modules/" ||
            die "no module $module in $root/lib/modules/$version"
    done
    cat >"$work/init" <<EOF
#!/bin/sh
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
for m in ${modules[*]}; do insmod /modules/\$m.ko* || echo "initrd: insmod \$m failed"; done
i=0
while [ ! -b /dev/vda ] && [ \$i -lt 120 ]; do sleep 1; i=\$((i + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initrd: cannot mount /dev/vda"; exec sh; }
exec switch_root /newroot /sbin/init
EOF
    chmod 0755 "$work/init"
    (cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
    rm -rf "$work"
}

# The check's lines from the serial console: journald forwards them as
# "[  201.150399] bash[222]: guest-checks: ...".
checks_from_console() {
    tr -d '\r' <"$1" | sed -nE 's/^(\[ *[0-9.]+\] [^ ]+: )?((guest-checks|vafa-check): )/\2/p'
}

# The VM: the root becomes an ext4 disk image (mkfs.ext4 -d) and boots with its own kernel.
# A unit in the image runs guest-checks.sh at boot, its output on the serial console (a file
# here), then powers off. qemu's user network reaches this machine's 127.0.0.1 at 10.0.2.2.
check_vm() {
    local kernel initrd=$root.initrd image=$root.img serial=$root.serial.log
    kernel=$(find "$root/boot" -name 'vmlinuz-*' | sort -V | tail -1)
    [[ -n $kernel ]] || die "no kernel in $root/boot (linux-image-$arch)"
    make_initrd "${kernel##*/vmlinuz-}" "$initrd"
    mkdir -p "$root/etc/systemd/network"
    printf '[Match]\nName=en*\n\n[Network]\nDHCP=yes\n' >"$root/etc/systemd/network/10-vm.network"
    echo "nameserver 10.0.2.3" >"$root/etc/resolv.conf"  # qemu's DNS forwarder
    echo "/dev/vda / ext4 defaults 0 1" >"$root/etc/fstab"
    chroot "$root" systemctl enable systemd-networkd systemd-networkd-wait-online >/dev/null 2>&1
    # Emulation is several times slower: every wait in the guest checks is multiplied, and
    # the agent gets 10 minutes to start (check-only drop-in; a real Pi starts in seconds).
    # Chromium is slowed far more (a JIT running on an emulated CPU, software rendering):
    # the kiosk's waits are multiplied by 20 (90 s -> 30 min each), the VM gets 2 hours.
    local checks_limit=3600
    {
        echo "VAFA_CHECK_SLOW=5"
        ((kiosk)) && echo "VAFA_CHECK_KIOSK_SLOW=20"
        echo "VAFA_CHECK_ARGS=$(guest_args "http://10.0.2.2:$port")"
    } >"$root/etc/vafa-check.env"
    ((kiosk)) && checks_limit=7200
    mkdir -p "$root/etc/systemd/system/vafa-agent.service.d"
    printf '[Service]\nTimeoutStartSec=600\n' \
        >"$root/etc/systemd/system/vafa-agent.service.d/check-emulated.conf"
    if ((kiosk)); then
        # cage's and Chromium's messages on the serial console as they come. Chromium's
        # network service runs in the browser process (feature NetworkServiceInProcess2 of
        # Debian 12's Chromium 150): as a process of its own it crashed
        # about 20 s after start in both emulated runs ("Network service crashed or was
        # terminated, restarting service"), taking the first load of the till with it, and
        # the page stayed blank (address "") for good. Named to sort after check-headless.conf.
        cat >"$root/etc/systemd/system/vafa-kiosk.service.d/check-vm.conf" <<'EOF2'
[Service]
StandardOutput=journal+console
StandardError=journal+console
Environment="VAFA_KIOSK_FLAGS=--remote-debugging-port=9222 --enable-features=NetworkServiceInProcess2"
EOF2
    fi
    cat >"$root/etc/systemd/system/vafa-check.service" <<'EOF'
[Unit]
Description=Vafa installer checks (check-under-systemd.sh)
Wants=network-online.target
After=network-online.target vafa-agent.service

[Service]
Type=oneshot
EnvironmentFile=/etc/vafa-check.env
ExecStart=/bin/bash -c 'bash /root/vafa/installer/guest-checks.sh $VAFA_CHECK_ARGS; echo "vafa-check: exit $?"'
ExecStartPost=/bin/systemctl poweroff --no-block
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
    chroot "$root" systemctl enable vafa-check.service >/dev/null 2>&1
    say "making $image (mkfs.ext4 -d $root)"
    rm -f "$image"
    local size
    size=$(($(du -sm "$root" | cut -f1) + 1536))
    mkfs.ext4 -q -F -d "$root" "$image" "${size}M" >/dev/null || die "mkfs.ext4 -d failed"
    # The check unit, the emulation drop-in and the VM's network live in the image only.
    chroot "$root" systemctl disable vafa-check.service >/dev/null 2>&1
    rm -rf "$root/etc/systemd/system/vafa-check.service" "$root/etc/vafa-check.env" \
        "$root/etc/systemd/system/vafa-agent.service.d" \
        "$root/etc/systemd/system/vafa-kiosk.service.d/check-vm.conf"
    : >"$serial"
    say "booting qemu-system-aarch64 (TCG: up to 15 min to boot, $((checks_limit / 60)) min for the checks)"
    local started=$SECONDS booted=0
    nice -n 10 qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 2048 \
        -kernel "$kernel" -initrd "$initrd" \
        -append "root=/dev/vda rw console=ttyAMA0" \
        -drive "file=$image,format=raw,if=virtio" \
        -netdev user,id=net0 -device virtio-net-pci,netdev=net0,romfile= \
        -display none -monitor none -serial "file:$serial" -no-reboot &
    qemu_pid=$!
    while kill -0 "$qemu_pid" 2>/dev/null; do
        if ((!booted)) && grep -aq "guest-checks: ok: vafa-agent.service is active" "$serial"; then
            booted=1
            say "booted; the agent active after $((SECONDS - started)) s"
        fi
        grep -aq "vafa-check: exit" "$serial" && break
        ((SECONDS - started < (booted ? checks_limit : 900))) || break
        sleep 5
    done
    checks_from_console "$serial" >"$root.checks.log"
    sed 's/^\(guest-checks\|vafa-check\): /check-under-systemd: guest: /' "$root.checks.log"
    for _ in $(seq 120); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 1; done
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=""
    say "the VM ran $((SECONDS - started)) s"
    grep -q "^vafa-check: exit 0" "$root.checks.log" ||
        die "the checks in the VM failed or timed out: see $serial"
    local shot  # screenshots (--kiosk) out of the image, without mounting it
    for shot in before-watchdog after-watchdog; do
        debugfs -R "dump /var/tmp/vafa-kiosk-$shot.png $root/var/tmp/vafa-kiosk-$shot.png" \
            "$image" >/dev/null 2>&1 || true
    done
}

cloud_sales() { cloud totals | sed -n 's/.*"sales": \([0-9]*\).*/\1/p'; }

cleanup() {
    if [[ -n ${guest_init:-} ]]; then in_guest systemctl poweroff >/dev/null 2>&1 || true; fi
    [[ -n ${qemu_pid:-} ]] && kill "$qemu_pid" 2>/dev/null
    [[ -n ${cloud_pid:-} ]] && kill "$cloud_pid" 2>/dev/null
    [[ -n ${nspawn_pid:-} ]] && wait "$nspawn_pid" 2>/dev/null
    return 0
}
trap cleanup EXIT

host_packages
make_root
trust_like_host
if ((reuse_install)); then
    [[ -x $root/opt/vafa/venv/bin/vafa-agent ]] || die "--reuse-install: no install in $root"
    find "$root/var/lib/vafa" -mindepth 1 -delete  # the cloud is new: so is the ledger
    cp -a "$src/installer/." "$root/root/vafa/installer/"
else
    install_in_root
fi
start_cloud
if ((native)); then check_container; else check_vm; fi
[[ $(cloud_sales) == 1 ]] || die "the cloud holds $(cloud_sales) sales, not 1"
say "ok: the cloud holds the terminal's sale"
if ((kiosk)); then
    for shot in before-watchdog after-watchdog; do
        [[ -f $root/var/tmp/vafa-kiosk-$shot.png ]] || die "no kiosk screenshot $shot"
        cp "$root/var/tmp/vafa-kiosk-$shot.png" "$root.kiosk-$shot.png"
        say "kiosk screenshot: $root.kiosk-$shot.png"
    done
fi
say "all checks passed on $suite $arch"
