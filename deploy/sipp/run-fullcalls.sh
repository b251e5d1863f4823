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
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${1:?calls per second}; secs=${2:-60}; agents=${3:-$(( rate * 15 + 50 ))}
out=var/load; mkdir -p "$out" bin
go build -o bin/hotline ./cmd/hotline
audio=$out/voice-alaw.wav
[[ -f $audio ]] || sox -V1 /usr/share/asterisk/sounds/ru/vm-intro.wav -t wav -e a-law "$audio"
sed "s|AUDIO|$PWD/$audio|" deploy/sipp/caller-load.xml > "$out/caller-load.xml"
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
  numbers: {"*": bench}
media: {rtp_ports: "20000-39999", inactivity_timeout: 60s, rtp_mux: ${HOTLINE_RTP_MUX:-false}}
http: {listen: "127.0.0.1:8090"}
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
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
DATABASE_URL= taskset -c 1 bin/hotline serve -config "$out/bench.yaml" -log-level warn > "$out/serve.log" 2>&1 &
hl=$!; pids+=($hl)
sleep 2
taskset -c 0 sipp -sf "$out/agent.xml" -i 127.0.0.7 -p 5072 -mp 6100 -rtp_echo -cp 8891 -nostdin -trace_stat -stf "$out/agents-full.csv" >/dev/null 2>&1 &
pids+=($!)
# One short SIPp run per agent (SIPp 3.6 takes no injected fields inside
# [authentication]), eight at a time, each from its own port.
seq -w 1 "$agents" | xargs -P 8 -I{} sh -c 'n=$(expr {} + 0); sipp -sf deploy/sipp/register.xml -i 127.0.0.7 -p $((20000 + n)) -cp $((21000 + n)) -m 1 \
  -s b{} -au b{} -ap bench-{} -key expires 3600 -key contact_host 127.0.0.7 -key contact_port 5072 \
  -nostdin -timeout 10s -timeout_error 127.0.0.1:5060 >/dev/null || echo "agent b{} did not register" >&2'
for i in $(seq -w 1 "$agents"); do
  curl -fsS -X POST "http://127.0.0.1:8090/api/v1/agents/b$i/login" >/dev/null
done
echo "registered and logged in $agents agents"
taskset -c 0 sipp -sf "$out/caller-load.xml" -i 127.0.0.6 -p 5070 -s 88001234567 -key caller 79123456789 \
  -r "$rate" -m $(( rate * secs )) -d 12300 -mp 40000 -cp 8890 \
  -nostdin -trace_stat -stf "$out/callers-full.csv" -timeout $(( secs + 60 ))s 127.0.0.1:5060 >/dev/null 2>&1 &
sp=$!; pids+=($sp)
cpu() { awk '{print $14+$15}' "/proc/$hl/stat"; }
hz=$(getconf CLK_TCK)
sleep 20   # ramp: calls last ~12.3 s
c0=$(cpu); t0=$(date +%s.%N)
sleep $(( secs - 25 > 10 ? secs - 25 : 10 ))
c1=$(cpu); t1=$(date +%s.%N)
awk -v c0="$c0" -v c1="$c1" -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "hotline CPU over the steady part: %.1f %% of one core\n", 100*(c1-c0)/hz/(t1-t0) }'
wait "$sp" && rc=0 || rc=$?
echo "SIPp callers exit $rc (0: every call succeeded)"
python3 - "$out/callers-full.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
h, last = rows[0], rows[-1]
for k in ['TotalCallCreated', 'SuccessfulCall(C)', 'FailedCall(C)', 'CallRate(C)']:
    print(k, last[h.index(k)])
PY
curl -fsS http://127.0.0.1:8090/metrics | grep -E '^hotline_calls_(offered|answered|abandoned)_total' || true
