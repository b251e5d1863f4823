#!/usr/bin/env bash
# Load test of the native switch with SIPp (see docs/benchmarks.md).
#   deploy/sipp/run-load.sh moh    N [SECONDS]   N callers on hold with music, each sending RTP
#   deploy/sipp/run-load.sh bridge N [SECONDS]   N callers bridged to a SIPp agent that echoes RTP
#   deploy/sipp/run-load.sh short  RATE [SECONDS] calls/s: answer, 1.8 s prompt, hang up
# The switch (loadtarget) runs pinned to CPU 1, SIPp to CPU 0. Prints the
# switch's CPU use every 5 s; SIPp's statistics go to var/load/*.csv.
# The last line is the result, the switch's CPU over the steady part of the
# run (all N calls up; for short, after the first 5 s) from /proc:
#   RESULT target=hotline mode=moh n=1000 cpu=57.3 per_core_80=1396 failed=0 sipp_exit=0
# Another switch instead of loadtarget (deploy/sipp/run-sidebyside.sh uses
# this for Asterisk): LOAD_TARGET=<its SIP address> LOAD_PID=<its process>
# [LOAD_NAME=asterisk]; its threads are pinned to CPU 1 for the run.
# LOAD_LISTEN moves loadtarget off 127.0.0.1:5060; LOAD_MUX=1 runs it with
# multiplexed RTP sockets (media.rtp_mux). The
# number dialled says the point (deploy/asterisk/bench/extensions.conf):
# 88001000001 moh, 88001000002 bridge, 88001000003 short.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:?mode: moh|bridge|short}; n=${2:?count or rate}; secs=${3:-60}
out=var/load; mkdir -p "$out" bin
target=${LOAD_TARGET:-${LOAD_LISTEN:-127.0.0.1:5060}}; name=${LOAD_NAME:-hotline}
case $mode in
  moh) service=88001000001 ;; bridge) service=88001000002 ;; short) service=88001000003 ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
[[ -n ${LOAD_TARGET:-} ]] || go build -o bin/loadtarget ./deploy/sipp/loadtarget
audio=$out/voice-alaw.wav
[[ -f $audio ]] || sox -V1 /usr/share/asterisk/sounds/ru/vm-intro.wav -t wav -e a-law "$audio"
sed "s|AUDIO|$PWD/$audio|" deploy/sipp/caller-load.xml > "$out/caller-load.xml"
sed 's/RING/0/' deploy/sipp/agent.xml > "$out/agent.xml"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
log=$out/$name-$mode.log
if [[ -n ${LOAD_TARGET:-} ]]; then
  pid=${LOAD_PID:?LOAD_PID: the process of the switch at LOAD_TARGET}
  taskset -a -cp 1 "$pid" >/dev/null
  : > "$log"
else
  target_mode=$mode; [[ $mode == short ]] && target_mode=prompt
  taskset -c 1 bin/loadtarget -mode "$target_mode" -listen "$target" -trunk 127.0.0.6 -mux="${LOAD_MUX:-0}" > "$log" 2>&1 &
  pid=$!
  pids+=($pid)
  sleep 1
fi
# cputicks: the switch's user + system time so far, in clock ticks.
cputicks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
if [[ $mode == bridge ]]; then
  taskset -c 0 sipp -sf "$out/agent.xml" -i 127.0.0.7 -p 5072 -mp 6100 -rtp_echo -cp 8891 -nostdin -trace_stat -stf "$out/agent.csv" >/dev/null 2>&1 &
  pids+=($!)
  sleep 1
  sipp -sf deploy/sipp/register.xml -i 127.0.0.7 -p 5071 -m 1 -s bench -au bench -ap bench \
    -key expires 3600 -key contact_host 127.0.0.7 -key contact_port 5072 -nostdin -timeout 10s -timeout_error "$target" >/dev/null
fi
stats=$out/callers-$name-$mode.csv
rm -f "$stats"
case $mode in
  moh|bridge)
    # Ramp at 50 calls/s to N concurrent calls, each lasting the whole run:
    # all N are up from N/50 s until SECONDS.
    taskset -c 0 sipp -sf "$out/caller-load.xml" -i 127.0.0.6 -p 5070 -s "$service" -key caller 79123456789 \
      -l "$n" -m "$n" -r 50 -d $(( secs * 1000 )) -mp 40000 -cp 8890 \
      -nostdin -trace_stat -stf "$stats" -timeout $(( secs + 60 ))s "$target" >/dev/null 2>&1 &
    pids+=($!)
    from=$(( n / 50 + 2 )); to=$(( secs - 1 )) ;;
  short)
    taskset -c 0 sipp -sf deploy/sipp/caller-short.xml -i 127.0.0.6 -p 5070 -mp 6000 -s "$service" -key caller 79123456789 \
      -r "$n" -m $(( n * secs )) -cp 8890 -nostdin -trace_stat -stf "$stats" -timeout $(( secs + 30 ))s "$target" >/dev/null 2>&1 &
    pids+=($!)
    from=5; to=$(( secs - 2 )) ;;
esac
(( to > from )) || { echo "SECONDS too short for a steady window at this load" >&2; exit 2; }
sipp_pid=${pids[-1]}
start=$SECONDS
sleep "$from"; t0=$(cputicks); s0=$(date +%s.%N)
sleep $(( to - from )); t1=$(cputicks); s1=$(date +%s.%N)
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")  # with all N calls up
end=$(( start + secs + 60 ))
while kill -0 "$sipp_pid" 2>/dev/null && (( SECONDS < end )); do sleep 5; tail -n 1 "$log"; done
wait "$sipp_pid" && rc=0 || rc=$?
echo "SIPp exit $rc (0: every call succeeded)"
tail -n 3 "$log"
failed=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "FailedCall(C)") c = i } END { print (c ? $c : "?") }' "$stats")
awk -v t0="$t0" -v t1="$t1" -v rss="$rss" -v s0="$s0" -v s1="$s1" -v hz="$(getconf CLK_TCK)" -v n="$n" \
  -v name="$name" -v mode="$mode" -v failed="$failed" -v rc="$rc" 'BEGIN {
  cpu = 100 * (t1 - t0) / hz / (s1 - s0)
  printf "RESULT target=%s mode=%s n=%d cpu=%.1f per_core_80=%d failed=%s sipp_exit=%d rss_kib=%s\n", name, mode, n, cpu, (cpu > 0 ? n * 80 / cpu : 0), failed, rc, rss
}'
