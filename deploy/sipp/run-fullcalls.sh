#!/usr/bin/env bash
# Full calls through `hotline serve` (see docs/benchmarks.md): each call is
# answered, hears a 2.3 s prompt (queue-callswaiting), joins a queue, an
# agent's phone rings and answers at once, 10 s of talk (RTP both ways,
# echoed by the agent), the caller hangs up. No database (events feed the
# metrics only).
#   deploy/sipp/run-fullcalls.sh RATE [SECONDS] [AGENTS]
# HOTLINE_RTP_MUX=true runs hotline with media.rtp_mux (multiplexed RTP).
# hotline runs pinned to CPU 1, SIPp (callers and agents) to CPU 0. Prints
# hotline's CPU use over the steady part of the run and SIPp's counts.
# DB=1: with the event log in a throwaway PostgreSQL (fsync on, in var/load/pg,
# pinned to CPU 0 with SIPp; its CPU is printed too). HOTLINE_BIN: a hotline
# binary to run instead of building one (A/B runs). PROXY=1: through Kamailio
# (deploy/kamailio/kamailio.cfg on 127.0.24.50, pinned to CPU 0; its CPU is
# printed): callers send to its trunk side, agents register through its agent
# side (one at a time from the phone's port: Kamailio's Path sends the INVITE
# to the address a REGISTER came from).
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${1:?calls per second}; secs=${2:-60}; agents=${3:-$(( rate * 15 + 50 ))}
out=var/load; mkdir -p "$out" bin
hotline=${HOTLINE_BIN:-bin/hotline}
[[ -n ${HOTLINE_BIN:-} ]] || go build -o bin/hotline ./cmd/hotline
db_yaml=""
if [[ ${DB:-} == 1 ]]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  as=(); [[ $(id -u) == 0 ]] && as=(runuser -u postgres --)
  rm -rf "$out/pg" "$out/spool"; mkdir -p "$out/pg"; chown postgres "$out/pg" 2>/dev/null || true
  "${as[@]}" "$pgbin/initdb" -D "$out/pg/data" -U postgres -A trust >/dev/null
  "${as[@]}" "$pgbin/pg_ctl" -D "$out/pg/data" -l "$out/pg/log" -w \
    -o "-k $PWD/$out/pg -c listen_addresses='' -c port=5499 -c fsync=on -c synchronous_commit=on" start >/dev/null
  db_yaml="database: {url: \"postgres://postgres@/postgres?host=$PWD/$out/pg&port=5499\", spool_dir: $PWD/$out/spool}"
fi
audio=$out/voice-alaw.wav
[[ -f $audio ]] || sox -V1 /usr/share/asterisk/sounds/ru/vm-intro.wav -t wav -e a-law "$audio"
sed "s|AUDIO|$PWD/$audio|" deploy/sipp/caller-load.xml > "$out/caller-load.xml"
target=127.0.0.1:5060; reg_target=127.0.0.1:5060
if [[ ${PROXY:-} == 1 ]]; then
  target=127.0.24.50:5060; reg_target=127.0.24.50:5070
  # In-dialog requests follow Kamailio's Record-Route (the route set).
  sed -i -e 's#<recv response="200" rtd="true"/>#<recv response="200" rtd="true" rrs="true"/>#' \
    -e 's#\(ACK\|BYE\) sip:\[service\]@\[remote_ip\]:\[remote_port\] SIP/2.0#\1 [next_url] SIP/2.0#' \
    -e 's#^\(\s*\)CSeq: \([12]\) \(ACK\|BYE\)$#\1CSeq: \2 \3\n\1[routes]#' "$out/caller-load.xml"
fi
sed 's/RING/0/' deploy/sipp/agent.xml > "$out/agent.xml"
# Config: the example's services with generated agents and one queue.
{
  cat <<YAML
service: {name: hotline-bench}
sip:
  listen: "127.0.0.1:5060"
  digest_algorithms: [MD5]
  ring_timeout: 10s
  register: {min_expiry: 60s, max_expiry: 3600s}
  trunks:
    - {name: load, allow: ["127.0.0.6"]}
    - {name: front, allow: ["127.0.24.50:5060"]}
  numbers: {"*": bench}
media: {rtp_ports: "20000-39999", inactivity_timeout: 60s, rtp_mux: ${HOTLINE_RTP_MUX:-false}}
http: {listen: "127.0.0.1:8090"}
$db_yaml
queues:
  - {name: bench, skill: general, ring_timeout: 10s, announce: {every: 0s}}
survey: {enabled: false}
ivr:
  default_queue: bench
  flows:
    bench:
      nodes:
        hello: {type: play, prompt: queue-callswaiting, next: queue}
        queue: {type: queue, queue: bench}
agents:
YAML
  for i in $(seq -w 1 "$agents"); do echo "  - {id: b$i, password: bench-$i, skills: {general: 1}}"; done
} > "$out/bench.yaml"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  [[ ${DB:-} != 1 ]] || "${as[@]}" "$pgbin/pg_ctl" -D "$out/pg/data" -m fast stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
[[ ${DB:-} != 1 ]] || taskset -pc 0 $(head -1 "$out/pg/data/postmaster.pid") >/dev/null
DATABASE_URL= taskset -c 1 "$hotline" serve -config "$out/bench.yaml" -log-level warn > "$out/serve.log" 2>&1 &
hl=$!; pids+=($hl)
sleep 2
phone() {
  taskset -c 0 sipp -sf "$out/agent.xml" -i 127.0.0.7 -p 5072 -mp 6100 -rtp_echo -cp 8891 -nostdin -trace_stat -stf "$out/agents-full.csv" >/dev/null 2>&1 &
  pids+=($!)
}
if [[ ${PROXY:-} == 1 ]]; then
  printf '1 sip:127.0.0.1:5060 2 10\n2 sip:127.0.0.1:5060 0 10\n' > "$out/dispatcher.list"
  rm -rf "$out/kam"; mkdir -p "$out/kam"
  taskset -c 0 kamailio -f deploy/kamailio/kamailio.cfg -DD -E -Y "$PWD/$out/kam" -P "$PWD/$out/kam/pid" -w "$PWD/$out/kam" \
    -A 'TRUNK_LISTEN=udp:127.0.24.50:5060' -A 'AGENT_LISTEN=udp:127.0.24.50:5070' \
    -A "DISPATCHER_LIST=\"$PWD/$out/dispatcher.list\"" > "$out/kamailio.log" 2>&1 &
  kam=$!; pids+=($kam)
  sleep 3
  for i in $(seq -w 1 "$agents"); do
    sipp -sf deploy/sipp/register.xml -i 127.0.0.7 -p 5072 -cp 8892 -m 1 -s "b$i" -au "b$i" -ap "bench-$i" -key expires 3600 \
      -key contact_host 127.0.0.7 -key contact_port 5072 -nostdin -timeout 10s -timeout_error "$reg_target" >/dev/null || echo "agent b$i did not register" >&2
  done
  phone
else
  phone
  # One short SIPp run per agent (SIPp 3.6 takes no injected fields inside
  # [authentication]), eight at a time, each from its own port.
  seq -w 1 "$agents" | xargs -P 8 -I{} sh -c 'n=$(expr {} + 0); sipp -sf deploy/sipp/register.xml -i 127.0.0.7 -p $((20000 + n)) -cp $((21000 + n)) -m 1 \
    -s b{} -au b{} -ap bench-{} -key expires 3600 -key contact_host 127.0.0.7 -key contact_port 5072 \
    -nostdin -timeout 10s -timeout_error 127.0.0.1:5060 >/dev/null || echo "agent b{} did not register" >&2'
fi
for i in $(seq -w 1 "$agents"); do
  curl -fsS -X POST "http://127.0.0.1:8090/api/v1/agents/b$i/login" >/dev/null
done
echo "registered and logged in $agents agents"
taskset -c 0 sipp -sf "$out/caller-load.xml" -i 127.0.0.6 -p 5070 -s 88001234567 -key caller 79123456789 \
  -r "$rate" -m $(( rate * secs )) -d 12300 -mp 40000 -cp 8890 \
  -nostdin -trace_stat -stf "$out/callers-full.csv" -timeout $(( secs + 60 ))s "$target" >/dev/null 2>&1 &
sp=$!; pids+=($sp)
cpu() { awk '{print $14+$15}' "/proc/$hl/stat"; }
pgcpu() { # PostgreSQL's processes (postmaster and its children)
  local t=0 pm
  [[ ${DB:-} == 1 ]] || { echo 0; return; }
  pm=$(head -1 "$out/pg/data/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do t=$(( t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0) )); done
  echo $t
}
kamcpu() { # Kamailio's processes
  local t=0
  [[ ${PROXY:-} == 1 ]] || { echo 0; return; }
  for p in $kam $(pgrep -P "$kam"); do t=$(( t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0) )); done
  echo $t
}
hz=$(getconf CLK_TCK)
sleep 20   # ramp: calls last ~12.3 s
c0=$(cpu); p0=$(pgcpu); k0=$(kamcpu); t0=$(date +%s.%N)
sleep $(( secs - 25 > 10 ? secs - 25 : 10 ))
c1=$(cpu); p1=$(pgcpu); k1=$(kamcpu); t1=$(date +%s.%N)
awk -v c0="$c0" -v c1="$c1" -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "hotline CPU over the steady part: %.1f %% of one core\n", 100*(c1-c0)/hz/(t1-t0) }'
[[ ${PROXY:-} != 1 ]] || awk -v c0="$k0" -v c1="$k1" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v r="$rate" 'BEGIN { c = 100*(c1-c0)/hz/(t1-t0); printf "Kamailio CPU over the steady part: %.1f %% of one core (%.1f %% per 100 calls/s)\n", c, c*100/r }'
[[ ${DB:-} != 1 ]] || awk -v c0="$p0" -v c1="$p1" -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "PostgreSQL CPU over the steady part: %.1f %% of one core\n", 100*(c1-c0)/hz/(t1-t0) }'
wait "$sp" && rc=0 || rc=$?
echo "SIPp callers exit $rc (0: every call succeeded)"
python3 - "$out/callers-full.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
h, last = rows[0], rows[-1]
for k in ['TotalCallCreated', 'SuccessfulCall(C)', 'FailedCall(C)', 'CallRate(C)', 'ResponseTime1(C)']:
    print(k, last[h.index(k)])
PY
[[ ${DB:-} != 1 ]] || "$(dirname "$pgbin")/bin/psql" -h "$PWD/$out/pg" -p 5499 -U postgres -Atc \
  "SELECT 'events stored ' || (SELECT count(*) FROM events) || ', transactions ' || xact_commit FROM pg_stat_database WHERE datname = 'postgres'"
curl -fsS http://127.0.0.1:8090/metrics | grep -E '^hotline_calls_(offered|answered|abandoned)_total' || true
