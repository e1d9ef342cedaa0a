#!/usr/bin/env bash
# Fuzz every target for SECONDS each (default 60), starting from a scratch copy of the
# committed seeds (corpus/<target>/), so the seeds stay as they are.
#
#   fuzz/run.sh          # CI: 60 s per target
#   fuzz/run.sh 600      # locally, longer
#   FUZZ_TARGETS="template" fuzz/run.sh 3600
#   FUZZ_SANITIZER=address fuzz/run.sh   # AddressSanitizer: needs the nightly toolchain
#
# Exits non-zero if any target crashed, hung (an input running longer than
# FUZZ_TIMEOUT seconds, default 10) or ran out of memory (2 GiB), after printing the
# reproducer's path (kept in fuzz/artifacts/<target>/) and how to replay it.
# docs/fuzzing.md says more.
set -euo pipefail

secs=${1:-60}
timeout=${FUZZ_TIMEOUT:-10}
sanitizer=${FUZZ_SANITIZER:-none}
read -r -a targets <<<"${FUZZ_TARGETS:-config rules template resource_statuses}"
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

# cargo-fuzz itself builds on stable. With --sanitizer none the targets build on
# stable too (libFuzzer's coverage instrumentation takes only stable -C flags);
# a sanitizer needs -Zsanitizer, so nightly.
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi
toolchain=()
if [ "$sanitizer" != none ]; then
    toolchain=(+nightly)
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/acronis-watch-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

start=$(date +%s)
cargo "${toolchain[@]}" fuzz build --sanitizer "$sanitizer"
echo "fuzz/run.sh: built in $(($(date +%s) - start)) s"

failed=()
for t in "${targets[@]}"; do
    mkdir -p "$scratch/corpus/$t" "$scratch/artifacts/$t" "artifacts/$t"
    cp corpus/"$t"/* "$scratch/corpus/$t/"
    dict=()
    if [ -f "$t.dict" ]; then
        dict=(-dict="$t.dict")
    fi
    log="$scratch/$t.log"
    echo "fuzz/run.sh: $t for $secs s"
    rc=0
    cargo "${toolchain[@]}" fuzz run --sanitizer "$sanitizer" "$t" "$scratch/corpus/$t" -- \
        -max_total_time="$secs" -timeout="$timeout" -rss_limit_mb=2048 \
        -artifact_prefix="$scratch/artifacts/$t/" -print_final_stats=1 "${dict[@]}" \
        >"$log" 2>&1 || rc=$?
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units' "$log" | sed "s/^/  $t: /" || true
    found=$(find "$scratch/artifacts/$t" -type f)
    if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
        failed+=("$t")
        echo "fuzz/run.sh: $t FAILED (exit $rc); the end of its log:" >&2
        grep -v '^#[0-9]' "$log" | tail -n 40 >&2
        for f in $found; do
            cp "$f" "artifacts/$t/"
            kept="$here/artifacts/$t/$(basename "$f")"
            echo "fuzz/run.sh: reproducer: $kept" >&2
            echo "fuzz/run.sh: replay: (cd fuzz && cargo fuzz run --sanitizer $sanitizer $t $kept)" >&2
        done
    fi
done

echo "fuzz/run.sh: done in $(($(date +%s) - start)) s"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz/run.sh: failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz/run.sh: no crash, hang or OOM in ${targets[*]} ($secs s each)"
