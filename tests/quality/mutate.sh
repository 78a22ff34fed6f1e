#!/usr/bin/env bash
# Mutation testing (mutmut) of the modules listed under [tool.mutmut] in pyproject.toml:
# the share of small code changes the suite's in-process tests catch. Slow, and for people,
# not CI:  bash tests/quality/mutate.sh   then   .venv/bin/mutmut results
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/pip install -q 'mutmut>=3.2'
.venv/bin/mutmut run --max-children "${JOBS:-2}" || true
.venv/bin/mutmut results 2>/dev/null | grep -oE ': [a-z ]+$' | sort | uniq -c  # killed ones are not listed
