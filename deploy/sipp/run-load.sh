#!/usr/bin/env bash
# Load test of the native switch with SIPp (see docs/benchmarks.md).
#   deploy/sipp/run-load.sh moh    N [SECONDS]   N callers on hold with music, each sending RTP
#   deploy/sipp/run-load.sh bridge N [SECONDS]   N callers bridged to a SIPp agent that echoes RTP
#   deploy/sipp/run-load.sh short  RATE [SECONDS] calls/s: answer, 1.8 s prompt, hang up
# The switch (loadtarget) runs pinned to CPU 1, SIPp to CPU 0. Prints the
# switch's CPU use every 5 s; SIPp's statistics go to var/load/*.csv.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:?mode: moh|bridge|short}; n=${2:?count or rate}; secs=${3:-60}
out=var/load; mkdir -p "$out" bin
go build -o bin/loadtarget ./deploy/sipp/loadtarget
audio=$out/voice-alaw.wav
[[ -f $audio ]] || sox -V1 /usr/share/asterisk/sounds/ru/vm-intro.wav -t wav -e a-law "$audio"
sed "s|AUDIO|$PWD/$audio|" deploy/sipp/caller-load.xml > "$out/caller-load.xml"
sed 's/RING/0/' deploy/sipp/agent.xml > "$out/agent.xml"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
target_mode=$mode; [[ $mode == short ]] && target_mode=prompt
taskset -c 1 bin/loadtarget -mode "$target_mode" -listen 127.0.0.1:5060 -trunk 127.0.0.6 > "$out/loadtarget-$mode.log" 2>&1 &
pids+=($!)
sleep 1
if [[ $mode == bridge ]]; then
  taskset -c 0 sipp -sf "$out/agent.xml" -i 127.0.0.7 -p 5072 -mp 6100 -rtp_echo -cp 8891 -nostdin -trace_stat -stf "$out/agent.csv" >/dev/null 2>&1 &
  pids+=($!)
  sleep 1
  sipp -sf deploy/sipp/register.xml -i 127.0.0.7 -p 5071 -m 1 -s bench -au bench -ap bench \
    -key expires 3600 -key contact_host 127.0.0.7 -key contact_port 5072 -nostdin -timeout 10s -timeout_error 127.0.0.1:5060 >/dev/null
fi
case $mode in
  moh|bridge)
    # Ramp at 50 calls/s to N concurrent calls, each lasting the whole run.
    taskset -c 0 sipp -sf "$out/caller-load.xml" -i 127.0.0.6 -p 5070 -s 88001234567 -key caller 79123456789 \
      -l "$n" -m "$n" -r 50 -d $(( secs * 1000 )) -mp 40000 -cp 8890 \
      -nostdin -trace_stat -stf "$out/callers-$mode.csv" -timeout $(( secs + 60 ))s 127.0.0.1:5060 >/dev/null 2>&1 &
    pids+=($!) ;;
  short)
    taskset -c 0 sipp -sf deploy/sipp/caller-short.xml -i 127.0.0.6 -p 5070 -mp 6000 -s 88001234567 -key caller 79123456789 \
      -r "$n" -m $(( n * secs )) -cp 8890 -nostdin -trace_stat -stf "$out/callers-short.csv" -timeout $(( secs + 30 ))s 127.0.0.1:5060 >/dev/null 2>&1 &
    pids+=($!) ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
sipp_pid=${pids[-1]}
end=$(( SECONDS + secs + 20 ))
while kill -0 "$sipp_pid" 2>/dev/null && (( SECONDS < end )); do sleep 5; tail -n 1 "$out/loadtarget-$mode.log"; done
wait "$sipp_pid" && rc=0 || rc=$?
echo "SIPp exit $rc (0: every call succeeded)"
tail -n 3 "$out/loadtarget-$mode.log"
