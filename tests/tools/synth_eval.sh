#!/usr/bin/env bash
# `pocketvec synth` writes a dataset directory that `eval` reads: exact f32 search finds the
# written ground truth exactly (recall 1.000), and a second synth into the same directory is
# refused. Usage: synth_eval.sh TOOL WORKDIR
set -euo pipefail
tool=$1
work=$2
rm -rf "$work"
"$tool" synth --out "$work/set" --count 1500 --dim 24 --queries 40 >/dev/null
for f in base.fvecs query.fvecs groundtruth_k100.ivecs README.md; do
    [ -s "$work/set/$f" ] || { echo "synth wrote no $f" >&2; exit 1; }
done
[ "$(stat -c %s "$work/set/base.fvecs")" = $((1500 * (4 + 4 * 24))) ] || { echo "base size" >&2; exit 1; }
[ "$(stat -c %s "$work/set/groundtruth_k100.ivecs")" = $((40 * (4 + 4 * 100))) ] || { echo "truth size" >&2; exit 1; }
out=$("$tool" eval --data "$work/set" --configs f32,int8 --threads 1 --json)
echo "$out"
echo "$out" | grep -q '"config": "f32".*"recall_at_10": 1.000,' ||
    { echo "f32 recall on the synthetic set is not 1.000" >&2; exit 1; }
if "$tool" synth --out "$work/set" --count 200 2>"$work/err"; then
    echo "synth over an existing directory succeeded" >&2
    exit 1
fi
grep -q "already exists" "$work/err"
