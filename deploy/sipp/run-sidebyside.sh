#!/usr/bin/env bash
# hotline and Asterisk at the same load points, one table (issue 20).
#   deploy/sipp/run-sidebyside.sh [SECONDS] [POINT...]
# POINT is mode:N as run-load.sh takes them (moh:N held callers, bridge:N
# bridged calls, short:RATE calls/s); default: moh:1000 bridge:500 short:300,
# 40 s each. Every point runs on hotline's switch (deploy/sipp/loadtarget on
# 127.0.0.1:5062), once with a port per stream and once with multiplexed RTP
# sockets (media.rtp_mux), and, when an Asterisk is reachable, on Asterisk:
#   HOTLINE_BENCH_ASTERISK_SIP  its bench transport (deploy/asterisk/bench/,
#                               127.0.0.1:5080); unset: hotline only
#   HOTLINE_BENCH_ASTERISK_PID  its process (default: pidof asterisk)
# The switch under test is pinned to CPU 1 and SIPp to CPU 0; CPU is the
# switch's own user + system time over the steady window (run-load.sh).
# Asterisk's CPU affinity is given back when the script ends.
# The table goes to stdout and var/load/side-by-side.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-40}; shift || true
points=("$@"); (( ${#points[@]} )) || points=(moh:1000 bridge:500 short:300)
targets=(hotline hotline-mux)
if [[ -n ${HOTLINE_BENCH_ASTERISK_SIP:-} ]]; then
  apid=${HOTLINE_BENCH_ASTERISK_PID:-$(pidof asterisk || true)}
  [[ -n $apid ]] || { echo "HOTLINE_BENCH_ASTERISK_SIP is set but no asterisk process (HOTLINE_BENCH_ASTERISK_PID)" >&2; exit 2; }
  targets+=(asterisk)
  mask=$(taskset -p "$apid" | awk '{ print $NF }')
  trap 'taskset -a -p "$mask" "$apid" >/dev/null 2>&1 || true' EXIT
fi
mkdir -p var/load
results=var/load/side-by-side.results; : > "$results"
for point in "${points[@]}"; do
  mode=${point%%:*}; n=${point#*:}
  for t in "${targets[@]}"; do
    echo "== $t $mode $n ($secs s)"
    if [[ $t == asterisk ]]; then
      LOAD_TARGET=$HOTLINE_BENCH_ASTERISK_SIP LOAD_PID=$apid LOAD_NAME=asterisk \
        deploy/sipp/run-load.sh "$mode" "$n" "$secs" | tee /dev/stderr | grep '^RESULT' >> "$results" || true
    elif [[ $t == hotline-mux ]]; then
      LOAD_LISTEN=127.0.0.1:5062 LOAD_MUX=1 LOAD_NAME=hotline-mux deploy/sipp/run-load.sh "$mode" "$n" "$secs" | tee /dev/stderr | grep '^RESULT' >> "$results" || true
    else
      LOAD_LISTEN=127.0.0.1:5062 deploy/sipp/run-load.sh "$mode" "$n" "$secs" | tee /dev/stderr | grep '^RESULT' >> "$results" || true
    fi
    sleep 2
  done
done
# One row per point: each switch's CPU, per-core figure and failures.
{
  echo "| point | load | hotline, a port per stream: CPU / per core at 80 % / failed | hotline, rtp_mux | Asterisk |"
  echo "|---|---|---|---|---|"
  awk '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      k = f["mode"] " " f["n"]; if (!(k in seen)) { seen[k] = 1; order[++m] = k }
      cell[k, f["target"]] = sprintf("%s %% / %s / %s", f["cpu"], f["per_core_80"], f["failed"] (f["sipp_exit"] == 0 ? "" : " (SIPp exit " f["sipp_exit"] ")")) }
    END { for (j = 1; j <= m; j++) { split(order[j], p, " ")
      printf "| %s | %s | %s | %s | %s |\n", p[1], p[2], (order[j] SUBSEP "hotline") in cell ? cell[order[j], "hotline"] : "—",
        (order[j] SUBSEP "hotline-mux") in cell ? cell[order[j], "hotline-mux"] : "—",
        (order[j] SUBSEP "asterisk") in cell ? cell[order[j], "asterisk"] : "not reachable" } }' "$results"
} | tee var/load/side-by-side.md
