#!/usr/bin/env bash
# make demo: a living support line on this machine, all on loopback.
#
# Installs what is missing (scripts/install-deps.sh demo), builds, generates
# the prompts, starts a throwaway PostgreSQL under ./var/demo (unless
# DATABASE_URL is set), migrates, starts `hotline serve` with
# examples/hotline.yaml and `hotline simulate` against it, shows the live
# board, then prints hotline's report beside the simulator's own counts.
# hotline stays up until Ctrl-C (when run from a terminal); Ctrl-C stops
# everything this script started.
#
# Environment:
#   DEMO_MINUTES                 minutes of simulated traffic (default 3)
#   DEMO_CALLS_PER_MINUTE        mean arrival rate (default 6)
#   DEMO_SIMULATE_FLAGS          extra flags for hotline simulate (e.g. "-escalate 0.2 -seed 7")
#   DEMO_KEEP                    keep hotline running at the end: auto (when stdin is a terminal), yes, no
#   DATABASE_URL                 use this PostgreSQL instead of a throwaway one (history adds up)
#   PGBINDIR                     PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
minutes=${DEMO_MINUTES:-3}
cpm=${DEMO_CALLS_PER_MINUTE:-6}
keep=${DEMO_KEEP:-auto}
config=examples/hotline.yaml
bin=$root/bin/hotline
pgbin=${PGBINDIR:-/usr/lib/postgresql/15/bin}
var=$root/var/demo
http=127.0.0.1:8080
sip=127.0.0.1:5060

[[ $minutes =~ ^[0-9]+$ && $minutes -ge 1 && $minutes -le 600 ]] || { echo "demo: DEMO_MINUTES=$minutes: want 1..600" >&2; exit 2; }
case $keep in auto) if [[ -t 0 && -t 1 ]]; then keep=yes; else keep=no; fi ;; yes|no) ;; *) echo "demo: DEMO_KEEP=$keep: want auto, yes or no" >&2; exit 2 ;; esac

say() { printf '\033[1m== %s\033[0m\n' "$*"; }
[[ -t 1 ]] || say() { printf '== %s\n' "$*"; }

# ---- what we start, and how it all stops ----
pgs=()        # process group ids (each started with setsid)
pgdata=""     # throwaway cluster to stop
as_pg=()      # runuser prefix when root
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ ${#pgs[@]} -gt 0 || -n $pgdata ]] && say "stopping what the demo started"
  local g
  for g in "${pgs[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    local alive=0
    for g in "${pgs[@]}"; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for g in "${pgs[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  if [[ -n $pgdata ]]; then
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME LOG CMD...: run CMD in its own session (process group) with
# output to LOG; sets $started to its pid (= its process group id).
start() {
  local name=$1 log=$2; shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  started=$!
  pgs+=("$started")
  echo "   $name: pid $started, log $log"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
# ready: hotline answers 200 on /readyz (bash only: no curl on a fresh machine).
ready() {
  (exec 3<>"/dev/tcp/${http%:*}/${http#*:}" && printf 'GET /readyz HTTP/1.0\r\nHost: %s\r\n\r\n' "$http" >&3 \
    && head -1 <&3 | grep -q ' 200 ') 2>/dev/null
}

# ---- 1. packages, build, prompts ----
say "checking Debian packages"
scripts/install-deps.sh demo
command -v go >/dev/null || { echo "demo: the Go toolchain is missing (go.mod wants $(awk '/^go /{print $2}' go.mod))" >&2; exit 1; }
say "building bin/hotline"
go build -o "$bin" ./cmd/hotline
say "generating prompts"
scripts/make-prompts.sh
"$bin" check-config -config "$config"

if port_open 127.0.0.1 8080; then
  echo "demo: something already listens on $http (a hotline from an earlier demo?). Stop it first." >&2
  exit 1
fi
mkdir -p "$var"

# ---- 2. PostgreSQL ----
if [[ -n ${DATABASE_URL:-} ]]; then
  say "using DATABASE_URL (reports include whatever history it holds)"
else
  say "starting a throwaway PostgreSQL"
  [[ -x $pgbin/initdb ]] || { echo "demo: $pgbin/initdb not found (Debian: apt-get install postgresql-15, or set PGBINDIR)" >&2; exit 1; }
  pgroot=$var/pg
  if [[ $(id -u) -eq 0 ]]; then
    as_pg=(runuser -u postgres --)
    # postgres must reach the data directory: a checkout under /root is not
    # reachable, so use a private directory under /tmp then.
    if ! runuser -u postgres -- test -x "$var"; then
      pgroot=$(mktemp -d /tmp/hotline-demo-pg.XXXXXX)
      echo "   $var is not reachable by user postgres: the cluster lives in $pgroot"
    fi
  fi
  rm -rf "$pgroot"
  mkdir -p "$pgroot/data" "$pgroot/sock"
  chmod 700 "$pgroot/data" "$pgroot/sock"
  [[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$pgroot"
  pgport=""
  for p in $(seq 55432 55532); do
    port_open 127.0.0.1 "$p" || { pgport=$p; break; }
  done
  [[ -n $pgport ]] || { echo "demo: no free port for PostgreSQL in 55432-55532" >&2; exit 1; }
  "${as_pg[@]}" "$pgbin/initdb" -D "$pgroot/data" -U postgres -A trust -E UTF8 --no-sync >"$var/initdb.log" 2>&1 \
    || { cat "$var/initdb.log" >&2; exit 1; }
  pgdata=$pgroot/data
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -l "$pgroot/postgres.log" -w -t 60 \
    -o "-p $pgport -k $pgroot/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null \
    || { cat "$pgroot/postgres.log" >&2; exit 1; }
  "${as_pg[@]}" "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres hotline
  export DATABASE_URL="postgres://postgres@127.0.0.1:$pgport/hotline?sslmode=disable"
  echo "   PostgreSQL 15 on 127.0.0.1:$pgport, data $pgdata"
  # Events spooled for an earlier demo's database belong to that database.
  rm -f var/spool/events.journal*
fi
"$bin" migrate

# ---- 3. hotline ----
say "starting hotline serve -config $config"
start "hotline serve" "$var/serve.log" "$bin" serve -config "$config"
serve_pid=$started
for _ in $(seq 1 150); do
  ready && break
  kill -0 "$serve_pid" 2>/dev/null || { echo "demo: hotline serve stopped:" >&2; tail -20 "$var/serve.log" >&2; exit 1; }
  sleep 0.2
done
ready || { echo "demo: hotline is not ready after 30 s:" >&2; tail -20 "$var/serve.log" >&2; exit 1; }
echo "   SIP $sip (trunk from 127.0.0.2), HTTP http://$http"

# ---- 4. traffic and the board ----
say "simulating $minutes min of traffic at $cpm calls/min (then calls finish and the survey calls go out)"
# shellcheck disable=SC2086 # DEMO_SIMULATE_FLAGS is a list of flags
start "hotline simulate" "$var/simulate.log" "$bin" simulate -config "$config" -duration "${minutes}m" \
  -calls-per-minute "$cpm" -json "$var/simulate.json" -log-level info ${DEMO_SIMULATE_FLAGS:-}
sim_pid=$started
sleep 1
"$bin" board -config "$config" -duration "${minutes}m" -while-pid "$sim_pid" -title "simulated traffic"
sim_rc=0
wait "$sim_pid" || sim_rc=$?
if ((sim_rc != 0)); then
  echo "demo: hotline simulate failed (exit $sim_rc):" >&2
  tail -20 "$var/simulate.log" >&2
fi
sleep 6 # let the reporting projector catch up (it runs every 5 s)

# ---- 5. results ----
echo
say "hotline's report for today, by queue (from PostgreSQL: hotline report -by queue)"
"$bin" report -config "$config" -by queue || true
echo
say "customer satisfaction (hotline report -by csi)"
"$bin" report -config "$config" -by csi || true
echo
say "escalations (hotline report -by escalations)"
"$bin" report -config "$config" -by escalations || true
echo
say "the simulator's own counts (compare with the report above)"
sed -n '/^simulator.s own counts/,$p' "$var/simulate.log"
echo
say "where to look next"
cat <<EOF
  metrics      curl -s http://$http/metrics | grep ^hotline_
  live API     curl -s -H 'Authorization: Bearer <http.token>' http://$http/api/v1/queues
               (the example's token is demo-api-token; also /api/v1/agents, /api/v1/calls, SSE /api/v1/events)
  reports      curl -s -H 'Authorization: Bearer <http.token>' 'http://$http/api/v1/reports/queues'
               (intervals, agents, teams, fcr, csi, escalations)
               DATABASE_URL='$DATABASE_URL' bin/hotline report -config $config -by agent
  surveys      curl -s -H 'Authorization: Bearer <http.token>' http://$http/api/v1/surveys
  agent desk   http://$http/desk/  (the example's agents log in with their web_password, e.g. a1 / desk-a1)
  live board   bin/hotline board -config $config
  a real softphone as an agent (the simulated agents have logged out):
               baresip: add to ~/.baresip/accounts
                 <sip:a5@127.0.0.1:5060;transport=udp>;auth_pass=demo-a5;regint=600
               (any SIP phone: user a5, password demo-a5, registrar 127.0.0.1:5060, UDP, MD5 digest)
               dial *1 to log in (*3 pause, *4 ready, *2 log out; REFER to 2000 or *9 escalates),
               then bring simulated callers and a few colleagues:
                 bin/hotline simulate -config $config -agents a1,a9 -duration 5m -calls-per-minute 2
  Prometheus   deploy/prometheus (scrape config and alert rules for http://$http/metrics)
  Grafana      deploy/grafana (provisioning and the hotline dashboard)
  logs         $var/serve.log, $var/simulate.log
EOF
echo
if [[ $keep == yes ]]; then
  say "hotline keeps running (SIP $sip, HTTP http://$http${pgdata:+, PostgreSQL on port $pgport}). Press Ctrl-C to stop everything."
  while kill -0 "$serve_pid" 2>/dev/null; do sleep 1; done
  echo "demo: hotline serve stopped:" >&2
  tail -20 "$var/serve.log" >&2
  exit 1
fi
say "no terminal: stopping (set DEMO_KEEP=yes to keep hotline running)"
exit "$sim_rc"
