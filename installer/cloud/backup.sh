#!/usr/bin/env bash
# Back up the Vafa cloud: a pg_dump of its PostgreSQL database and a copy of its PII key.
#
#   installer/cloud/backup.sh /var/backups/vafa        # settings from the environment
#
# Reads VAFA_CLOUD_DATABASE_URL and VAFA_CLOUD_PII_KEY_FILE (source /etc/vafa/cloud.env
# first, or run it from a systemd timer with EnvironmentFile=). Writes, mode 0600:
#   vafa-cloud-<UTC time>.dump       pg_dump's custom format (restore.sh reads it)
#   vafa-cloud-<UTC time>.pii.key    the key; the dump's members are unreadable without it
# The dump is a consistent snapshot taken while the cloud keeps serving.
# PG_BIN may name the folder of pg_dump/pg_restore to use (default: PATH).
set -euo pipefail

die() { echo "backup: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 OUTPUT-FOLDER"
output=$1
url=${VAFA_CLOUD_DATABASE_URL:-}
[[ $url == postgresql* ]] || die "VAFA_CLOUD_DATABASE_URL must be a PostgreSQL URL, got '${url}'"
# SQLAlchemy's "postgresql+psycopg://" is libpq's "postgresql://".
url=$(sed -E 's|^postgresql\+[a-z0-9]+://|postgresql://|' <<<"$url")
bin=${PG_BIN:+$PG_BIN/}

umask 077
mkdir -p "$output"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
dump=$output/vafa-cloud-$stamp.dump
"${bin}pg_dump" --format=custom --no-owner --no-privileges --file="$dump.partial" "$url"
# A dump pg_restore cannot list is no backup.
"${bin}pg_restore" --list "$dump.partial" >/dev/null
mv "$dump.partial" "$dump"

key=${VAFA_CLOUD_PII_KEY_FILE:-}
if [[ -n $key ]]; then
    [[ -r $key ]] || die "cannot read the PII key $key"
    install -m 0600 "$key" "$output/vafa-cloud-$stamp.pii.key"
else
    echo "backup: VAFA_CLOUD_PII_KEY_FILE is not set: back up the PII key yourself" >&2
fi
echo "$dump"
