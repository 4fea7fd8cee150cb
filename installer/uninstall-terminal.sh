#!/usr/bin/env bash
# Remove the Vafa terminal installed by install-terminal.sh.
#
#   sudo /opt/vafa/uninstall-terminal.sh            # keeps /var/lib/vafa and /etc/vafa
#   sudo /opt/vafa/uninstall-terminal.sh --purge    # also deletes the ledger, keys, config
#                                                   # and the vafa user: sales not yet
#                                                   # synced are LOST; back up first
#
# Without --purge the ledger, the keys and the settings stay, so installing again brings
# the terminal back with every sale. DESTDIR works as for install-terminal.sh: nothing
# outside it changes and root's actions go to $DESTDIR/vafa-root-actions.
set -euo pipefail

# Everything runs from main(), parsed whole before it starts: this file deletes its own copy.
main() {
    local root=${DESTDIR:-} purge=0 unit
    root=${root%/}
    case "${1:-}" in
        "") ;;
        --purge) purge=1 ;;
        *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
    esac
    if [[ -z $root && $(id -u) -ne 0 ]]; then
        echo "uninstall-terminal: run as root (sudo), or set DESTDIR" >&2
        exit 1
    fi
    local actions=$root/vafa-root-actions
    as_root() {
        if [[ -n $root ]]; then printf '%s\n' "$*" >>"$actions"; else "$@"; fi
    }
    [[ -z $root ]] || : >"$actions"

    for unit in vafa-kiosk.service vafa-agent.service; do
        [[ -e $root/etc/systemd/system/$unit ]] || continue
        # Without a running systemd (a chroot) --now cannot stop it, but disable still works.
        as_root systemctl disable --now "$unit" || true
        rm -f "$root/etc/systemd/system/$unit"
    done
    rm -f "$root/etc/udev/rules.d/70-vafa.rules"
    rm -rf "$root/opt/vafa"
    as_root systemctl daemon-reload || true
    as_root udevadm control --reload-rules || true
    if getent passwd vafa-kiosk >/dev/null || [[ -n $root ]]; then
        as_root userdel --remove vafa-kiosk || true
    fi

    if ((purge)); then
        rm -rf "$root/var/lib/vafa" "$root/etc/vafa"
        if getent passwd vafa >/dev/null || [[ -n $root ]]; then
            as_root userdel vafa
        fi
        echo "uninstall-terminal: removed Vafa, its data, settings and the vafa user"
    else
        echo "uninstall-terminal: removed Vafa; kept /var/lib/vafa (ledger, keys) and /etc/vafa"
    fi
}

main "$@"
