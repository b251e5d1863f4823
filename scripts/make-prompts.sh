#!/usr/bin/env bash
# Generates hotline's custom prompts (greeting, menus, survey) from
# prompts/texts.tsv with espeak-ng, converted to 8 kHz 16-bit mono WAV by sox,
# into prompts/generated/<lang>/hotline/<name>.wav. Regenerates only what is
# missing or older than the texts. Real deployments replace these files with
# recordings.
set -euo pipefail
cd "$(dirname "$0")/.."
for t in espeak-ng sox; do
  command -v "$t" >/dev/null || { echo "make-prompts: $t is missing (Debian package $t); run scripts/install-deps.sh demo" >&2; exit 1; }
done
out=prompts/generated
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
while IFS=$'\t' read -r name ru en; do
  [[ -z $name || $name == \#* ]] && continue
  for lang in ru en; do
    text=$ru; [[ $lang == en ]] && text=$en
    f=$out/$lang/hotline/$name.wav
    [[ -f $f && $f -nt prompts/texts.tsv ]] && continue
    mkdir -p "$(dirname "$f")"
    espeak-ng -v "$lang" -s 150 -w "$tmp/raw.wav" "$text"
    sox -V1 "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$f" gain -n -3
    n=$((n+1))
  done
done < prompts/texts.tsv
echo "make-prompts: $n prompt(s) generated in $out" >&2
