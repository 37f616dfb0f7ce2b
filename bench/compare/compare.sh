#!/usr/bin/env bash
# bench/compare: pocketvec against sqlite-vec, SQLite Vector, USearch and faiss on the same
# machine in one run. Installs the peers itself (npm: better-sqlite3@12, sqlite-vec-linux-x64,
# @sqliteai/sqlite-vector-linux-x86_64, usearch; Debian: python3-faiss, python3-numpy), builds
# pocketvec, then for every set builds each engine in one process and queries it in a fresh one,
# single thread, k = 10, median of 3 query runs, and prints the tables of bench/RESULTS.md.
#
#   bench/compare/compare.sh [DATA_DIR...]        (default: the demo's synthetic 100k x 384,
#                                                  ../shared/data/glove6b-100d-top50k and
#                                                  ../shared/data/wordnet-uselite512-25k)
# Environment: PVEC_COMPARE_QUERIES (default 200), PVEC_COMPARE_RUNS (3),
# PVEC_COMPARE_LARGE=0 to skip the 400k x 384 bandwidth and threads run (pocketvec only),
# PVEC_COMPARE_OUT (default build-compare/).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${PVEC_COMPARE_OUT:-$root/build-compare}
queries=${PVEC_COMPARE_QUERIES:-200}
runs=${PVEC_COMPARE_RUNS:-3}
large=${PVEC_COMPARE_LARGE:-1}
mkdir -p "$out"

# ---- peers and pocketvec
"$root/scripts/install-deps.sh"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
need=()
for p in python3-faiss python3-numpy; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
command -v npm >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
export PVEC_PEERS_DIR="$out/peers"
if [ ! -d "$PVEC_PEERS_DIR/node_modules/usearch" ]; then
    mkdir -p "$PVEC_PEERS_DIR"
    cp "$root/bench/compare/package.json" "$PVEC_PEERS_DIR/"
    (cd "$PVEC_PEERS_DIR" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
cmake -S "$root" -B "$out/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPVEC_BUILD_BENCH=ON \
    -DPVEC_BUILD_TOOLS=ON -DPVEC_BUILD_TESTS=OFF -DPVEC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$out/build" --target pvec_compare_engine pocketvec_tool >/dev/null
engine="$out/build/bench/pvec_compare_engine"
tool="$out/build/tools/pocketvec"

# ---- data
sets=("$@")
if [ ${#sets[@]} -eq 0 ]; then
    syn="$out/data/synthetic-100k-384"
    [ -d "$syn" ] || "$tool" synth --out "$syn" --count 100000 --dim 384 --queries 1000 >/dev/null
    sets=("$syn" "$root/../shared/data/glove6b-100d-top50k"
          "$root/../shared/data/wordnet-uselite512-25k")
fi

results="$out/results.jsonl"
: >"$results"
# One engine step; a failure is recorded as an error line and the run goes on.
step() {  # step SET ENGINE CMD...
    local set=$1 eng=$2
    shift 2
    "$@" || echo "{\"set\": \"$set\", \"engine\": \"$eng\", \"error\": \"failed: $*\"}"
}
median_run() {  # median_run CMD...: runs the query $runs times, keeps the run of median p50
    local lines=()
    for _ in $(seq "$runs"); do lines+=("$("$@" || true)"); done
    printf '%s\n' "${lines[@]}" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
rows = [r for r in rows if "p50_ms" in r]
rows.sort(key=lambda r: r["p50_ms"])
print(json.dumps(rows[len(rows) // 2]) if rows else "{}")'
}

pvec_configs=(f32 f16 bf16 e4m3 e5m2 int8 int4 binary int8+r4 int8+exact binary+r10)
node_peers=(usearch-f32 usearch-i8 sqlite-vec-f32 sqlite-vec-int8 sqlite-vec-bit
            sqlite-vector-f32 sqlite-vector-int8 sqlite-vector-1bit)
faiss_peers=(faiss-f32 faiss-sq8 faiss-binary)
for dir in "${sets[@]}"; do
    name=$(basename "$dir")
    work="$out/files/$name"
    mkdir -p "$work"
    echo "== $name" >&2
    for c in "${pvec_configs[@]}"; do
        echo "   pocketvec $c" >&2
        step "$name" "pocketvec-$c" "$engine" build "$c" "$dir" "$work/pv-$c.db" >>"$results"
        median_run "$engine" query "$c" "$dir" "$work/pv-$c.db" "$queries" 10 1 >>"$results"
    done
    for e in "${node_peers[@]}"; do
        echo "   $e" >&2
        step "$name" "$e" node "$root/bench/compare/peers.mjs" build "$e" "$dir" "$work/$e.db" \
            >>"$results"
        median_run node "$root/bench/compare/peers.mjs" query "$e" "$dir" "$work/$e.db" \
            "$queries" 10 >>"$results"
    done
    for e in "${faiss_peers[@]}"; do
        echo "   $e" >&2
        step "$name" "$e" /usr/bin/python3 "$root/bench/compare/faiss_peer.py" build "$e" "$dir" \
            "$work/$e.index" >>"$results"
        median_run /usr/bin/python3 "$root/bench/compare/faiss_peer.py" query "$e" "$dir" \
            "$work/$e.index" "$queries" 10 >>"$results"
    done
    # One core's read bandwidth for a buffer of each configuration's code bytes.
    /usr/bin/python3 - "$results" "$name" <<'EOF' | while read -r bytes; do
import json, sys
sizes = set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("set") == sys.argv[2] and "code_bytes" in r and "n" in r:
        sizes.add(int(r["code_bytes"]) * int(r["n"]))
print("\n".join(str(s) for s in sorted(sizes)))
EOF
        "$engine" membw "$bytes" | sed "s/^{/{\"set\": \"$name\", /" >>"$results"
    done
done

# ---- 400k x 384: bandwidth floor and threads (pocketvec only)
if [ "$large" = 1 ]; then
    big="$out/data/synthetic-400k-384"
    [ -d "$big" ] || "$tool" synth --out "$big" --count 400000 --dim 384 --queries 200 >/dev/null
    name=$(basename "$big")
    work="$out/files/$name"
    mkdir -p "$work"
    echo "== $name" >&2
    for c in f32 f16 bf16 e4m3 int8 int4 binary; do
        echo "   pocketvec $c" >&2
        "$engine" build "$c" "$big" "$work/pv-$c.db" >>"$results"
        median_run "$engine" query "$c" "$big" "$work/pv-$c.db" 100 10 1 >>"$results"
        if [ "$c" = f32 ] || [ "$c" = int8 ]; then
            median_run "$engine" query "$c" "$big" "$work/pv-$c.db" 100 10 2 |
                sed 's/"engine": "pocketvec-\([a-z0-9+]*\)"/"engine": "pocketvec-\1@2threads"/' \
                >>"$results"
        fi
        code=$(tail -n 1 "$results" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["code_bytes"] * r["n"])')
        "$engine" membw "$code" | sed "s/^{/{\"set\": \"$name\", /" >>"$results"
    done
    "$engine" batch int8 "$big" "$work/pv-int8.db" 16 10 >>"$results"
fi

/usr/bin/python3 "$root/bench/compare/report.py" "$results"
