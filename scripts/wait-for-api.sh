#!/usr/bin/env bash
# Waits until the loopback stand-in API (scripts/fake-api.py, fake-images-api.py) on PORT
# answers for eval `base`, for up to a minute; fails if it never does. The stand-in reads and
# indexes its evals before it listens (seconds at 10,000 classes), and a run timed before it
# answers would time evalgate's retries.
#
#   scripts/wait-for-api.sh PORT
set -euo pipefail
url="http://127.0.0.1:$1/ws/model-evals/base"
for _ in $(seq 600); do curl -fs "$url" >/dev/null && exit 0; sleep 0.1; done
echo "the stand-in API on port $1 never answered" >&2
exit 1
