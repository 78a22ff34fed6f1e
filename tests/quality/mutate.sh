#!/usr/bin/env bash
# Mutation testing (mutmut) of the modules listed under [tool.mutmut] in pyproject.toml:
# the share of small code changes the suite's in-process tests catch. Slow, and for people,
# not CI:  bash tests/quality/mutate.sh   then   .venv/bin/mutmut results
# SAMPLE=8 runs every 8th mutant only (a systematic sample, in mutmut's listing order),
# which is what a two-core machine can do in an hour.
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/pip install -q 'mutmut>=3.2'
if [ -n "${SAMPLE:-}" ]; then
  # A run for a name that matches nothing generates the mutants and times the tests.
  .venv/bin/mutmut run "paperdeck.no_such_module.*" >/dev/null 2>&1 || true
  mapfile -t chosen < <(.venv/bin/mutmut results --all true 2>/dev/null \
    | awk -v n="$SAMPLE" 'NR % n == 1 { sub(/:.*/, ""); gsub(/ /, ""); print }')
  .venv/bin/mutmut run --max-children "${JOBS:-2}" "${chosen[@]}" || true
  printf '%s\n' "${chosen[@]}" > mutants/sample.txt
  .venv/bin/mutmut results --all true 2>/dev/null | awk -F': ' '
    NR == FNR { chosen[$0] = 1; next }
    { name = $1; gsub(/ /, "", name); if (name in chosen) print $2 }
  ' mutants/sample.txt - | sort | uniq -c
else
  .venv/bin/mutmut run --max-children "${JOBS:-2}" || true
  .venv/bin/mutmut results --all true 2>/dev/null | grep -oE ': [a-z ]+$' | sort | uniq -c
fi
