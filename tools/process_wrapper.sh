#!/usr/bin/env bash
# Runs the wrapper from source with the host's deno (PATH, or npx as a last
# resort). main.ts is found in the runfiles, or beside this script's target.
set -euo pipefail
self="$(readlink -f "${BASH_SOURCE[0]}")"
main="$(dirname "$self")/../main.ts"
for candidate in "${RUNFILES_DIR:-${BASH_SOURCE[0]}.runfiles}"/*/main.ts; do
  [ -f "$candidate" ] && main="$candidate" && break
done
if command -v deno >/dev/null 2>&1; then deno=(deno); else deno=(npx --yes deno@2.9.6); fi
exec "${deno[@]}" run --quiet --allow-read --allow-write --allow-env --allow-run "$main" "$@"
