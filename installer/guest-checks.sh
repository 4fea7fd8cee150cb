#!/usr/bin/env bash
# The checks installer/check-under-systemd.sh runs INSIDE a booted guest (as root), after
# install-terminal.sh: the same script whether the guest is a systemd-nspawn container
# (entered with nsenter) or a qemu-system virtual machine (run by a unit at boot).
#
#   bash installer/guest-checks.sh --cloud URL --code CODE [--kiosk] [--shots DIR]
#
# It checks that vafa-agent.service is active (Type=notify: READY=1 reached systemd),
# enrols with the cloud at URL, sells through the POS API and waits for the cloud's
# acknowledgement, freezes the agent for the watchdog, upgrades with install-terminal.sh and
# checks the sale is kept. With --kiosk it also checks vafa-kiosk.service: active, Chromium
# running as vafa-kiosk on the till's address, and screenshots of the page it shows (through
# its remote debugging port) in DIR before and after the watchdog restarts the agent. Every wait is bounded; the first
# failure prints "guest-checks: FAILED: ..." and exits 1. The host checks the cloud's side.
set -euo pipefail

cloud_url=""
code=""
kiosk=0
shots=/var/tmp
# An emulated guest (qemu TCG) is ~10x slower: VAFA_CHECK_SLOW multiplies every wait.
slow=${VAFA_CHECK_SLOW:-1}
# Chromium suffers most from emulation (minutes to start and draw a page, software
# rendering): VAFA_CHECK_KIOSK_SLOW multiplies the kiosk's waits instead (default: $slow).
kiosk_slow=${VAFA_CHECK_KIOSK_SLOW:-$slow}
agent_bin=/opt/vafa/venv/bin/vafa-agent
python=/opt/vafa/venv/bin/python
kiosk_url=http://127.0.0.1:8300/cashier/

say() { echo "guest-checks: $*"; }
die() { echo "guest-checks: FAILED: $*"; exit 1; }

while (($#)); do
    case $1 in
        --cloud) cloud_url=$2; shift ;;
        --code) code=$2; shift ;;
        --kiosk) kiosk=1 ;;
        --shots) shots=$2; shift ;;
        *) die "unknown option $1" ;;
    esac
    shift
done
[[ -n $cloud_url && -n $code ]] || die "usage: guest-checks.sh --cloud URL --code CODE"

# wait_for SECONDS COMMAND...: run COMMAND every second until it succeeds (times $slow).
wait_for() {
    local seconds=$(($1 * slow))
    shift
    for _ in $(seq "$seconds"); do
        "$@" && return 0
        sleep 1
    done
    return 1
}
# kiosk_wait_for SECONDS COMMAND...: the same for SECONDS x $kiosk_slow seconds of the clock:
# under emulation one try (a Python start, a request to Chromium) takes several seconds, so a
# count of tries would last hours.
kiosk_wait_for() {
    local deadline=$((SECONDS + $1 * kiosk_slow))
    shift
    while ((SECONDS < deadline)); do
        "$@" && return 0
        sleep 1
    done
    return 1
}

agent() { runuser -u vafa -- "$agent_bin" --config /etc/vafa/agent.toml "$@"; }
is_active() { [[ $(systemctl is-active "$1" || true) == active ]]; }
ledger() {
    "$python" -c 'import sqlite3, sys
db = sqlite3.connect("file:/var/lib/vafa/ledger.sqlite3?mode=ro", uri=True)
print(db.execute(sys.argv[1]).fetchone()[0])' "$1"
}

wait_agent() {
    if ! wait_for 60 is_active vafa-agent; then
        journalctl -u vafa-agent --no-pager -n 30 || true
        die "vafa-agent is not active"
    fi
}

pos_sale() {
    "$python" - "$(cat /var/lib/vafa/pos-api.token)" <<'EOF'
import json, sys, urllib.request
request = urllib.request.Request(
    "http://127.0.0.1:8300/pos/v1/sales",
    data=json.dumps({"member": "09121234567", "amount_rial": 1500000}).encode(),
    headers={"Authorization": f"Bearer {sys.argv[1]}", "Content-Type": "application/json"},
)
urllib.request.urlopen(request, timeout=30).read()
EOF
}

sale_acked() {
    [[ $(ledger "SELECT COUNT(*) FROM outbox WHERE kind = 'sale.completed'
        AND acked_at IS NOT NULL") == 1 ]]
}

# Chromium's browser process (/usr/lib/chromium/chromium) on the till's address, as vafa-kiosk.
chromium_on_till() { pgrep -u vafa-kiosk -f -- "chromium/chromium .*$kiosk_url" >/dev/null; }

# screenshot NAME: the page Chromium shows, through its remote debugging port (the check's
# drop-in opens it); fails when no page is open on the till's address or the picture is one
# flat colour (a blank or crashed page).
screenshot() {
    local file=$shots/vafa-kiosk-$1.png
    rm -f "$file"
    "$python" /root/vafa/installer/kiosk-screenshot.py --url-prefix "$kiosk_url" \
        --timeout $((30 * slow)) "$file" |
        sed 's/^/guest-checks: the kiosk shows /' || return 1
    "$python" - "$file" <<'EOF2'
import sys
from PIL import Image
image = Image.open(sys.argv[1]).convert("RGB")
colours = image.getcolors(maxcolors=1 << 20)
count = len(colours) if colours else 1 << 20
print(f"guest-checks: screenshot {sys.argv[1]}: {image.width}x{image.height}, {count} colours")
sys.exit(count < 16)
EOF2
}

check_kiosk() {
    local started=$SECONDS
    if ! kiosk_wait_for 90 is_active vafa-kiosk; then
        journalctl -u vafa-kiosk --no-pager -n 40 || true
        die "vafa-kiosk is not active"
    fi
    if ! kiosk_wait_for 90 chromium_on_till; then
        journalctl -u vafa-kiosk --no-pager -n 40 || true
        die "no Chromium of vafa-kiosk on $kiosk_url"
    fi
    # The page may still be loading, or (after the agent's restart) reloading.
    if ! kiosk_wait_for 90 screenshot "$1"; then
        journalctl -u vafa-kiosk --no-pager -n 40 || true
        die "the kiosk does not show $kiosk_url"
    fi
    say "the kiosk's screenshot $1 came $((SECONDS - started)) s after the check began"
}

wait_agent
say "ok: vafa-agent.service is active (Type=notify: READY=1 reached systemd)"

agent enroll --cloud "$cloud_url" --code "$code" >/dev/null || die "enrolment failed"
systemctl restart vafa-agent
wait_agent
agent member add --mobile 09121234567 --name "سارا احمدی" --consent >/dev/null
wait_for 30 pos_sale 2>/dev/null || die "the POS API did not take the sale"  # port may bind late
wait_for 90 sale_acked || die "the sale was not acknowledged by the cloud"
say "ok: enrolled; a sale through the POS API was acknowledged by the cloud (service's own sync)"

if ((kiosk)); then
    check_kiosk before-watchdog
    say "ok: vafa-kiosk.service is active, Chromium (user vafa-kiosk) shows $kiosk_url"
fi

frozen=$(systemctl show -p MainPID --value vafa-agent)
frozen_at=$(date '+%Y-%m-%d %H:%M:%S')  # the journal may hold earlier runs' watchdog lines
kill -STOP "$frozen"
say "froze the agent (pid $frozen); WatchdogSec=60 should restart it"
restarted() {
    local now
    now=$(systemctl show -p MainPID --value vafa-agent)
    [[ $now != "$frozen" && $now != 0 ]]
}
wait_for 120 restarted || die "the frozen agent was not restarted"
# grep -c reads to the end: grep -q would stop early and fail the pipe (pipefail, SIGPIPE).
watchdog_fired() {
    (($(journalctl -u vafa-agent --since "$frozen_at" --no-pager |
        grep -c "Failed with result 'watchdog'") > 0))
}
if ! wait_for 10 watchdog_fired; then  # journald may lag a moment
    journalctl -u vafa-agent --no-pager -n 30 || true
    die "the watchdog did not fire"
fi
wait_agent
say "ok: the watchdog killed the frozen agent and systemd started it again"

if ((kiosk)); then
    check_kiosk after-watchdog
    say "ok: the kiosk still shows the till after the agent's restart"
fi

say "upgrade: install-terminal.sh again on the running guest"
upgrade_log=/var/tmp/vafa-upgrade.log
upgrade=(bash installer/install-terminal.sh)
((kiosk)) && upgrade+=(--kiosk)
(cd /root/vafa && "${upgrade[@]}") >"$upgrade_log" 2>&1 || {
    tail -20 "$upgrade_log"
    die "the upgrade failed: see $upgrade_log"
}
wait_agent
agent ledger verify >/dev/null || die "ledger verify failed after the upgrade"
sales=$(ledger "SELECT COUNT(*) FROM sales")
[[ $sales == 1 ]] || die "the terminal holds $sales sales after the upgrade, not 1"
[[ $(stat -c %a /var/lib/vafa) == 700 ]] || die "/var/lib/vafa is not 0700"
say "ok: upgraded with the agent restarted, ledger verified, the sale kept"
say "all guest checks passed"
