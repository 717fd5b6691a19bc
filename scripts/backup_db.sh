#!/usr/bin/env bash
# Back up the Kinetic database and delete old backups.
#
#   SQLite:     online copy with the SQLite backup API (sqlite3 ".backup", or Python's
#               sqlite3 module when the sqlite3 CLI is missing), checked, then gzipped.
#               Safe while the daemon runs.
#   PostgreSQL: pg_dump in custom format (restore with pg_restore).
#
# Usage: scripts/backup_db.sh [-d BACKUP_DIR] [-k KEEP_DAYS] [-u DATABASE_URL] [-s SQLITE_PATH]
#
# Which database: the SQLite file given by -s (or $SQLITE_PATH); else the URL given by -u,
# else $DATABASE_URL, else DATABASE_URL from the .env file ($ENV_FILE, default
# <install dir>/.env); else SQLite at data/kinetic.db (the default sqlite_path).
# Relative SQLite paths are taken from the install dir, the daemon's working directory.
# Defaults: BACKUP_DIR=<install dir>/backups, KEEP_DAYS=14 (0 keeps everything).
# Backups older than KEEP_DAYS days are deleted after a successful backup.
# The variable names deliberately do not start with KINETIC_: the daemon reads every
# KINETIC_* variable as a config field and refuses unknown ones.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
backup_dir="${BACKUP_DIR:-$root/backups}"
keep_days="${KEEP_DAYS:-14}"
url="${DATABASE_URL:-}"
sqlite_path="${SQLITE_PATH:-}"
env_file="${ENV_FILE:-$root/.env}"

while getopts "d:k:u:s:h" opt; do
  case "$opt" in
    d) backup_dir="$OPTARG" ;;
    k) keep_days="$OPTARG" ;;
    u) url="$OPTARG" ;;
    s) sqlite_path="$OPTARG" ;;
    h) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "usage: $0 [-d BACKUP_DIR] [-k KEEP_DAYS] [-u DATABASE_URL] [-s SQLITE_PATH]" >&2; exit 2 ;;
  esac
done

case "$keep_days" in
  ''|*[!0-9]*) echo "backup_db: KEEP_DAYS must be a whole number, got '$keep_days'" >&2; exit 2 ;;
esac

# DATABASE_URL from .env, read as data (the file is not sourced).
if [ -z "$url" ] && [ -r "$env_file" ]; then
  line="$(grep -E '^[[:space:]]*(export[[:space:]]+)?DATABASE_URL[[:space:]]*=' "$env_file" | tail -n 1 || true)"
  value="${line#*=}"
  value="${value#"${value%%[![:space:]]*}"}"
  value="${value%"${value##*[![:space:]]}"}"
  value="${value%\"}"; value="${value#\"}"; value="${value%\'}"; value="${value#\'}"
  url="$value"
fi

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$backup_dir"
chmod 700 "$backup_dir"
umask 077

log() { echo "backup_db: $*" >&2; }

backup_sqlite() {
  local src="$1" tmp dst
  case "$src" in /*) ;; *) src="$root/$src" ;; esac
  if [ ! -f "$src" ]; then
    log "SQLite database $src does not exist"; exit 1
  fi
  tmp="$backup_dir/.kinetic-$stamp.db.partial"
  dst="$backup_dir/kinetic-$stamp.db.gz"
  rm -f "$tmp"
  if command -v sqlite3 >/dev/null 2>&1; then
    sqlite3 "$src" ".timeout 10000" ".backup '$tmp'"
    result="$(sqlite3 "$tmp" "PRAGMA integrity_check;")"
  else
    py="${PYTHON:-$root/.venv/bin/python}"
    [ -x "$py" ] || py=python3
    result="$("$py" - "$src" "$tmp" <<'EOF'
import sqlite3, sys
src = sqlite3.connect(sys.argv[1], timeout=10)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
print(dst.execute("PRAGMA integrity_check").fetchone()[0])
dst.close()
src.close()
EOF
)"
  fi
  if [ "$result" != "ok" ]; then
    rm -f "$tmp"; log "integrity check of the copy failed: $result"; exit 1
  fi
  gzip -c "$tmp" > "$dst.partial"
  mv "$dst.partial" "$dst"
  rm -f "$tmp"
  log "SQLite $src -> $dst"
}

backup_postgres() {
  local raw="$1" scheme rest userinfo hostpart user password dst
  command -v pg_dump >/dev/null 2>&1 || { log "pg_dump not found (install the PostgreSQL client)"; exit 1; }
  # Kinetic accepts driver suffixes (postgresql+asyncpg://); libpq does not.
  scheme="${raw%%://*}"
  rest="${raw#*://}"
  case "$scheme" in
    postgres|postgresql|postgresql+*) ;;
    *) log "unsupported database URL scheme '$scheme'"; exit 2 ;;
  esac
  # Keep the password off the command line: pass it through PGPASSWORD.
  if [[ "$rest" == *@* ]]; then
    userinfo="${rest%%@*}"
    hostpart="${rest#*@}"
    user="${userinfo%%:*}"
    if [[ "$userinfo" == *:* ]]; then
      password="${userinfo#*:}"
      PGPASSWORD="$(printf '%b' "${password//%/\\x}")"
      export PGPASSWORD
    fi
    rest="$user@$hostpart"
  fi
  dst="$backup_dir/kinetic-$stamp.dump"
  pg_dump --format=custom --no-owner --file="$dst.partial" --dbname="postgresql://$rest"
  mv "$dst.partial" "$dst"
  log "PostgreSQL -> $dst"
}

if [ -n "$sqlite_path" ]; then
  backup_sqlite "$sqlite_path"
elif [ -n "$url" ]; then
  case "$url" in
    sqlite*://*) backup_sqlite "${url#*:///}" ;;
    *) backup_postgres "$url" ;;
  esac
else
  backup_sqlite data/kinetic.db
fi

if [ "$keep_days" -gt 0 ]; then
  find "$backup_dir" -maxdepth 1 -type f \
    \( -name 'kinetic-*.db.gz' -o -name 'kinetic-*.dump' \) \
    -mtime "+$((keep_days - 1))" -print -delete | sed 's/^/backup_db: deleted /' >&2
fi
