#!/usr/bin/env bash
# Two learners on one engine: run the live tier twice at the same time against $DOCKER_HOST,
# as two learners, and fail if either run fails. Each run keeps its own log and junit file;
# both durations are printed.
#
#   eval "$(bash scripts/engine.sh env docker-26)"
#   bash scripts/two-learners.sh [extra pytest arguments]
#
# Settings: PY (default .venv/bin/python), LAYERLAB_TWO_LEARNERS_OUT (folder for the logs,
# default a new folder under /tmp), LAYERLAB_TWO_LEARNERS_TIMEOUT (seconds per run, default
# 1800; each test also has its own pytest-timeout).
#
# The runs start in the background, so they inherit SIGINT ignored (as any `&` or `nohup`
# start does): this also proves that no test depends on Ctrl-C reaching it by default.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
LIMIT=${LAYERLAB_TWO_LEARNERS_TIMEOUT:-1800}
OUT=${LAYERLAB_TWO_LEARNERS_OUT:-$(mktemp -d /tmp/layerlab-two-learners.XXXXXX)}
mkdir -p "$OUT"
say() { printf 'two-learners: %s\n' "$*"; }

if [ -z "${DOCKER_HOST:-}" ]; then
    say 'DOCKER_HOST is not set: point it at one engine first, e.g. eval "$(bash scripts/engine.sh env docker-26)"'
    exit 2
fi
if [ ! -x "$PY" ]; then
    say "no $PY: run 'make install' first"
    exit 2
fi

run_id="$(date +%s)-$$"
pids=()
learners=()
cleanup_children() {
    for pid in "${pids[@]}"; do
        kill -- "$pid" 2>/dev/null || true  # only the runs this script started
    done
}
trap cleanup_children EXIT
trap 'exit 130' INT TERM

say "two learners on $DOCKER_HOST; logs in $OUT"
started=$SECONDS
for n in 1 2; do
    learner="two-learners-$n-$run_id"
    learners+=("$learner")
    (
        begin=$SECONDS
        LAYERLAB_LEARNER=$learner timeout --kill-after=30 "$LIMIT" \
            "$PY" -m pytest -m "engine and not browser and not machine_root" tests -p no:cacheprovider \
            --junitxml="$OUT/learner-$n.xml" -o junit_suite_name="two-learners-$n" "$@" \
            >"$OUT/learner-$n.log" 2>&1
        rc=$?
        echo "$rc $((SECONDS - begin))" >"$OUT/learner-$n.result"
    ) &
    pids+=("$!")
done
wait "${pids[@]}"
pids=()
trap - EXIT

status=0
for n in 1 2; do
    read -r rc seconds <"$OUT/learner-$n.result" || { rc=1; seconds='?'; }
    summary=$(grep -E '^=+ .*(passed|failed|error).* =+$' "$OUT/learner-$n.log" | tail -1 | tr -d '=' | sed 's/^ *//; s/ *$//')
    say "learner $n (${learners[$((n - 1))]}): exit $rc in ${seconds} s: ${summary:-no summary, see $OUT/learner-$n.log}"
    if [ "$rc" != 0 ]; then
        status=1
        grep -E '^(FAILED|ERROR) ' "$OUT/learner-$n.log" | sed 's/^/    /' | head -20
    fi
    # The suite removes what it made (its test_learner fixture); this removes anything a run
    # that was cut short left under the learner id it was started with.
    LAYERLAB_LEARNER=${learners[$((n - 1))]} "$PY" -m layerlab cleanup --all >/dev/null 2>&1 || true
done
say "both runs took $((SECONDS - started)) s together; junit: $OUT/learner-1.xml $OUT/learner-2.xml"
exit "$status"
