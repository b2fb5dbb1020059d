#!/usr/bin/env bash
# Checks every target's imports against scripts/allowed-imports.txt so the module graph stays
# one-way (the SIP core never learns about services, overlay or storage). Exit 1 on a violation.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
allow="$root/scripts/allowed-imports.txt"
always="Swift _Concurrency Synchronization Glibc Musl Darwin"
status=0
checked=0
for dir in "$root"/Sources/*/; do
  target=$(basename "$dir")
  # System-library targets (a module map, no Swift) import nothing.
  [ -n "$(find "$dir" -name '*.swift' -print -quit)" ] || continue
  line=$(grep -E "^$target:" "$allow" || true)
  if [ -z "$line" ]; then
    echo "check-imports: Sources/$target is not listed in scripts/allowed-imports.txt" >&2
    status=1
    continue
  fi
  allowed=" ${line#*:} $always "
  while IFS=: read -r file lineno text; do
    module=$(sed -E 's/^[[:space:]]*(@[A-Za-z_]+(\([^)]*\))?[[:space:]]+)*((public|package|internal|fileprivate|private)[[:space:]]+)?import[[:space:]]+((struct|class|enum|protocol|func|var|let|typealias)[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*).*/\7/' <<<"$text")
    checked=$((checked + 1))
    if [[ "$allowed" != *" $module "* ]]; then
      echo "${file#$root/}:$lineno: error: $target may not import $module (allowed:${line#*:})" >&2
      status=1
    fi
  done < <(grep -rnE '^[[:space:]]*(@[A-Za-z_]+(\([^)]*\))?[[:space:]]+)*((public|package|internal|fileprivate|private)[[:space:]]+)?import[[:space:]]' --include='*.swift' "$dir" || true)
done
if [ $status -eq 0 ]; then echo "check-imports: $checked imports in Sources/ follow scripts/allowed-imports.txt"; fi
exit $status
