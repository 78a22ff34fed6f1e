#!/usr/bin/env bash
# Line and branch coverage of the whole suite, child processes included (the CLI runs as a
# subprocess in many tests). A measurement for people, not a CI gate:
#   bash tests/quality/coverage.sh            # everything
#   bash tests/quality/coverage.sh -k sync    # a part (pytest arguments)
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/pip install -q 'coverage[toml]>=7.10'
rm -f .coverage .coverage.*
.venv/bin/coverage run -m pytest -q -p no:cacheprovider "$@" || true
.venv/bin/coverage combine -q
.venv/bin/coverage report --precision=1
