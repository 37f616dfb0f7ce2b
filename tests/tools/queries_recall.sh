#!/usr/bin/env bash
# Must-show of the newcomer issue: `pocketvec search --queries` over a dataset's 1,000 queries,
# on an int8 collection with the raw tier and --oversample 4, answers in one process with
# recall@10 = 1.000 against the set's ground truth. Usage: queries_recall.sh TOOL DATA_DIR WORKDIR
set -euo pipefail
tool=$1
data=$2
work=$3
if [ ! -f "$data/base.fvecs" ]; then
    echo "SKIP: dataset $data not present"
    exit 0
fi
rm -rf "$work" && mkdir -p "$work"
dim=$(od -An -t d4 -N 4 "$data/base.fvecs" | tr -d ' ')
"$tool" create "$work/q.db" c --dim "$dim" --codec int8 --raw >/dev/null
"$tool" import "$work/q.db" c "$data/base.fvecs" >/dev/null
"$tool" search "$work/q.db" c --queries "$data/query.fvecs" -k 10 --oversample 4 >"$work/hits.jsonl"
python3 - "$work/hits.jsonl" "$data/groundtruth_k100.ivecs" <<'PY'
import json, struct, sys
gt, b, i = [], open(sys.argv[2], 'rb').read(), 0
while i < len(b):
    d = struct.unpack_from('<i', b, i)[0]
    gt.append(struct.unpack_from('<%di' % d, b, i + 4)); i += 4 + 4 * d
hits = n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    hits += len(set(r["ids"][:10]) & set(gt[r["query"]][:10])); n += 10
print("queries %d, recall@10 %.4f" % (n // 10, hits / n))
sys.exit(0 if n // 10 == len(gt) and hits == n else 1)
PY
