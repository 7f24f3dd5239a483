#!/usr/bin/env bash
# Runs the gate for the action: `evalgate check` with every report, then the PR comment.
#
# The step fails on a regression (unless fail-on-regression is false) and always when the gate
# could not run (exit codes 2 and above): a broken setup never passes.
#
# Inputs (environment): INPUT_POLICY, INPUT_CANDIDATE, INPUT_BASELINE, INPUT_WORKSPACE,
# INPUT_COMMENT, INPUT_COMMENT_KEY, INPUT_FAIL_ON_REGRESSION, ROBOFLOW_API_KEY, GITHUB_TOKEN
# and the runner's own variables.
set -euo pipefail

fail() {
  echo "::error title=evalgate::$1"
  exit 2
}

[[ -n "${INPUT_POLICY:-}" ]] || fail "the policy input is required"
[[ -n "${INPUT_CANDIDATE:-}" ]] || fail "the candidate input is required"
case "${INPUT_FAIL_ON_REGRESSION:-true}" in
  true | false) ;;
  *) fail "fail-on-regression must be true or false" ;;
esac
comment="${INPUT_COMMENT:-auto}"
case "$comment" in
  auto)
    case "${GITHUB_EVENT_NAME:-}" in
      pull_request | pull_request_target) comment=true ;;
      *) comment=false ;;
    esac
    ;;
  true | false) ;;
  *) fail "comment must be true, false or auto" ;;
esac

if [[ -n "${ROBOFLOW_API_KEY:-}" ]]; then
  echo "::add-mask::$ROBOFLOW_API_KEY"
else
  unset ROBOFLOW_API_KEY
fi
if [[ -n "${INPUT_WORKSPACE:-}" ]]; then
  export ROBOFLOW_WORKSPACE="$INPUT_WORKSPACE"
fi

reports="${RUNNER_TEMP:?}/evalgate-reports"
mkdir -p "$reports"
args=(check --github --policy "$INPUT_POLICY" --candidate "$INPUT_CANDIDATE"
  --junit "$reports/evalgate.xml" --markdown "$reports/evalgate.md" --json "$reports/evalgate.json")
if [[ -n "${INPUT_BASELINE:-}" ]]; then
  args+=(--baseline "$INPUT_BASELINE")
fi

code=0
evalgate "${args[@]}" || code=$?
if ((code >= 2)) && [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  # evalgate writes its outputs only when the gate ran; say how it ended anyway.
  echo "exit-code=$code" >>"$GITHUB_OUTPUT"
fi

if [[ "$comment" == true && -f "$reports/evalgate.md" ]] && ((code < 2)); then
  # A comment that cannot be written warns (evalgate says why); it never changes the verdict.
  evalgate comment --markdown "$reports/evalgate.md" --key "${INPUT_COMMENT_KEY:-default}" ||
    echo "::warning title=evalgate::the PR comment could not be posted; the job summary has the report"
fi

if ((code >= 2)); then
  exit "$code"
fi
if ((code == 1)) && [[ "${INPUT_FAIL_ON_REGRESSION:-true}" == true ]]; then
  exit 1
fi
exit 0
