#!/usr/bin/env bash
# Restore the Vafa cloud from a backup.sh dump into the database VAFA_CLOUD_DATABASE_URL names.
#
#   systemctl stop vafa-cloud vafa-cloud-scheduler
#   installer/cloud/restore.sh /var/backups/vafa/vafa-cloud-20260101T000000Z.dump
#   systemctl start vafa-cloud vafa-cloud-scheduler     # migrates the schema if it is older
#
# The database must exist (createdb, empty or not): whatever the dump holds is replaced, in
# one transaction, so a failed restore leaves the database as it was. The PII key saved next
# to the dump is put at VAFA_CLOUD_PII_KEY_FILE when no key is there; a different key
# already there stops the restore (the restored members could not be read with it).
# PG_BIN may name the folder of pg_restore to use (default: PATH).
set -euo pipefail

die() { echo "restore: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 BACKUP.dump"
dump=$1
[[ -r $dump ]] || die "cannot read $dump"
url=${VAFA_CLOUD_DATABASE_URL:-}
[[ $url == postgresql* ]] || die "VAFA_CLOUD_DATABASE_URL must be a PostgreSQL URL, got '${url}'"
url=$(sed -E 's|^postgresql\+[a-z0-9]+://|postgresql://|' <<<"$url")
bin=${PG_BIN:+$PG_BIN/}

saved_key=${dump%.dump}.pii.key
key=${VAFA_CLOUD_PII_KEY_FILE:-}
if [[ -n $key && -e $saved_key ]]; then
    if [[ -e $key ]]; then
        cmp -s "$key" "$saved_key" || die "$key differs from $saved_key: move it away first"
    fi
fi

"${bin}pg_restore" --clean --if-exists --no-owner --no-privileges --single-transaction \
    --exit-on-error --dbname="$url" "$dump"

if [[ -n $key && -e $saved_key && ! -e $key ]]; then
    install -D -m 0600 "$saved_key" "$key"
    echo "restore: PII key put at $key"
fi
echo "restore: restored $dump"
