#!/usr/bin/env bash
# What the Kamailio hop costs (docs/benchmarks.md, "Two nodes, one line"):
# the same short calls (answer, a 1 s prompt, hotline hangs up) straight to
# hotline and through deploy/kamailio/kamailio.cfg, at RATE calls/s for SECONDS
# each. Prints INVITE→200 times (SIPp's rtd, -trace_rtt) both ways and
# Kamailio's CPU time over its run. No database (a single node, no lease).
#   deploy/kamailio/run-hop.sh [RATE] [SECONDS]
# Addresses 127.0.5.50 (hotline), .51 (Kamailio), .52 (SIPp).
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${1:-50}; secs=${2:-20}; calls=$(( rate * secs ))
out=$PWD/var/hop; rm -rf "$out"; mkdir -p "$out" bin
go build -o bin/hotline ./cmd/hotline
[[ -d prompts/generated/ru ]] || scripts/make-prompts.sh
cat > "$out/hotline.yaml" <<YAML
service: {name: hotline-hop}
sip:
  listen: "127.0.5.50:5060"
  trunks:
    - {name: front, allow: ["127.0.5.51:5060"]}
    - {name: direct, allow: ["127.0.5.52"]}
  numbers: {"*": short}
media:
  rtp_ports: "44200-45199"
  prompts: {ru: [$PWD/prompts/generated/ru, /usr/share/asterisk/sounds/ru]}
http: {listen: "127.0.5.50:8090"}
agents: [{id: b1, password: pw-b1}]
queues: [{name: q}]
survey: {enabled: false}
ivr:
  default_queue: q
  flows:
    short:
      nodes:
        hello: {type: play, prompt: digits/1, next: bye}
        bye: {type: hangup}
YAML
printf '1 sip:127.0.5.50:5060 2 10\n2 sip:127.0.5.50:5060 0 10\n' > "$out/dispatcher.list"
bin/hotline serve -config "$out/hotline.yaml" > "$out/hotline.log" 2>&1 &
hot=$!
mkdir -p "$out/kam"
kamailio -f deploy/kamailio/kamailio.cfg -DD -E -Y "$out/kam" -P "$out/kam/pid" -w "$out/kam" \
  -A 'TRUNK_LISTEN=udp:127.0.5.51:5060' -A 'AGENT_LISTEN=udp:127.0.5.51:5070' \
  -A "DISPATCHER_LIST=\"$out/dispatcher.list\"" > "$out/kamailio.log" 2>&1 &
kam=$!
trap 'kill $hot $kam 2>/dev/null; wait 2>/dev/null' EXIT
sleep 3
sed 's/TALK/15000/' deploy/sipp/caller-proxy.xml > "$out/caller.xml"
cpu() { # utime+stime (clock ticks) of Kamailio's processes
  local t=0
  for p in $(pgrep -P "$kam") $kam; do
    t=$(( t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0) ))
  done
  echo $t
}
run() { # name target
  (cd "$out" && sipp -sf caller.xml -nostdin -i 127.0.5.52 -p 5080 -mp 45400 -s 8800 -key caller 79991234567 \
    -r "$rate" -m "$calls" -l $(( rate * 5 )) -trace_rtt -rtt_freq 1 -trace_stat -stf "stat-$1.csv" -timeout $(( secs + 60 ))s -timeout_error "$2" > "sipp-$1.log" 2>&1) || true
  local f; f=$(ls -t "$out"/caller_*_rtt.csv | head -1); mv "$f" "$out/rtt-$1.csv"
  awk -F';' 'NR>1 && $2 != "" {print $2}' "$out/rtt-$1.csv" | sort -n | awk -v n="$1" '{a[NR]=$1; s+=$1}
    END {printf "%-8s calls %d  INVITE->200 mean %.2f ms  p50 %.2f  p99 %.2f\n", n, NR, s/NR, a[int(NR*0.5)], a[int(NR*0.99)]}'
  # SIPp's cumulative mean in microseconds (the rtt file has whole ms)
  awk -F';' 'NR==1 {for (i=1;i<=NF;i++) if ($i=="ResponseTime1(C)") c=i} END {split($c,t,":"); printf "%-8s mean INVITE->200 %.3f ms (SIPp statistics)\n", n, (t[1]*3600+t[2]*60+t[3])*1000+t[4]/1000}' n="$1" "$out/stat-$1.csv"
  grep -E "Successful call|Failed call" "$out/sipp-$1.log" | tail -2 | tr -s ' ' || true
}
run direct 127.0.5.50:5060
c0=$(cpu); t0=$(date +%s.%N)
run kamailio 127.0.5.51:5060
c1=$(cpu); t1=$(date +%s.%N)
awk -v c=$(( c1 - c0 )) -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" -v r="$rate" \
  'BEGIN {cpu=c/hz; el=t1-t0; printf "kamailio CPU %.2f s over %.1f s at %d calls/s: %.1f %% of a core, %.1f %% per 100 calls/s\n", cpu, el, r, 100*cpu/el, 100*cpu/el*100/r}'
