#!/usr/bin/env bash
# Builds the libFuzzer target for the SIP parser (Fuzz/) with coverage + AddressSanitizer and runs it
# for a bounded time, then prints a summary: executions, corpus size and crashes.
#
#   FUZZ_SECONDS=60 scripts/fuzz.sh [extra libFuzzer flags...]
#
# Seeds: Fuzz/Corpus (committed) and, when present, the RFC 4475 torture messages of the SIPSyntax
# tests; both are read only. New corpus entries go to fuzz-artifacts/corpus, crash/timeout/leak inputs
# to fuzz-artifacts/ (gitignored). Replay a crash: Fuzz/.build/debug/sip-parser-fuzz fuzz-artifacts/crash-…
# FUZZ_KEEP_GOING=1 runs libFuzzer in fork mode and keeps going after a crash (to count distinct crashes
# in one bounded run); otherwise the run stops at the first crash.
# Exit status: 0 when no crash was found, 1 when one was, 2 when the build failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=${FUZZ_SECONDS:-60}
artifacts="$root/fuzz-artifacts"
binary="$root/Fuzz/.build/debug/sip-parser-fuzz"
mkdir -p "$artifacts/corpus"

echo "fuzz: building Fuzz/ with -sanitize=fuzzer,address" >&2
if ! swift build -c debug --package-path Fuzz --scratch-path Fuzz/.build \
    --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address \
    >"$artifacts/build.log" 2>&1; then
  grep -E "error:" "$artifacts/build.log" >&2 || tail -20 "$artifacts/build.log" >&2
  echo "fuzz: build failed (full log: fuzz-artifacts/build.log)" >&2
  exit 2
fi

seeds=("$root/Fuzz/Corpus")
[ -d "$root/Tests/SIPSyntaxTests/Torture" ] && seeds+=("$root/Tests/SIPSyntaxTests/Torture")

before=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
echo "fuzz: running sip-parser-fuzz for ${seconds}s (log: fuzz-artifacts/fuzz.log)" >&2
keep_going=()
if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
  keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi
set +e
# The Swift backtracer reads memory ASan flags as overflows; ASan prints the stack itself.
SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no} ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$binary" \
  -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -dict="$root/Fuzz/sip.dict" -artifact_prefix="$artifacts/" \
  "${keep_going[@]}" "$@" "$artifacts/corpus" "${seeds[@]}" >"$artifacts/fuzz.log" 2>&1
status=$?
set -e
after=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)

executions=$(grep -E '^stat::number_of_executed_units:' "$artifacts/fuzz.log" | awk '{print $2}' | tail -1 || true)
per_second=$(grep -E '^stat::average_exec_per_sec:' "$artifacts/fuzz.log" | awk '{print $2}' | tail -1 || true)
if [ -z "$executions" ]; then  # fork mode prints "#N: cov: … exec/s: E …" status lines instead
  last=$(grep -E '^#[0-9]+: cov:' "$artifacts/fuzz.log" | tail -1 || true)
  executions=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  per_second=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$last")
fi
corpus=$(find "$artifacts/corpus" -type f | wc -l)
new_crashes=$((after - before))

echo "fuzz.executions ${executions:-unknown}"
echo "fuzz.exec_per_second ${per_second:-unknown}"
echo "fuzz.corpus_entries $corpus"
echo "fuzz.crashes $new_crashes"
if [ "$status" -ne 0 ] || [ "$new_crashes" -gt 0 ]; then
  grep -E 'Fatal error|ERROR: AddressSanitizer|ERROR: libFuzzer|SUMMARY' "$artifacts/fuzz.log" | head -5 >&2 || true
  find "$artifacts" -maxdepth 1 -type f -newer "$artifacts/build.log" \
    \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) -printf 'fuzz: saved %p\n' >&2 || true
  exit 1
fi
