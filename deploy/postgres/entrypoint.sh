#!/bin/sh
# First start: make the cluster, a `turnout` role with POSTGRES_PASSWORD and a `turnout` database.
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pw=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pw"
  "$bin/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "host all all ::/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  "$bin/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  psql -v ON_ERROR_STOP=1 -U postgres -d postgres -q \
    -c "CREATE ROLE turnout LOGIN PASSWORD '$(sed "s/'/''/g" "$pw")'" -c "CREATE DATABASE turnout OWNER turnout"
  "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  rm -f "$pw"
fi
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*'
