#!/usr/bin/env bash
# The tool's item commands and batch search: get, delete, drop, import --upsert, search
# --oversample/--rescore/--queries, their exit codes (0 ok, 1 runtime error, 2 usage error) and
# bad input, and that a failed create leaves no file. Usage: items_and_queries.sh TOOL WORKDIR
set -uo pipefail
tool=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {  # expect_rc RC CMD...
    local want=$1; shift
    "$@" >"$work/out" 2>"$work/err"; local rc=$?
    [ "$rc" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "'$*' exited $rc, expected $want"; }
}
db="$work/t.db"
cat >"$work/a.jsonl" <<JSON
{"id": 1, "embedding": [1, 0, 0, 0], "title": "one"}
{"id": 2, "embedding": [0, 1, 0, 0], "title": "two"}
{"id": 3, "embedding": [0, 0, 1, 0]}
JSON
cat >"$work/b.jsonl" <<JSON
{"id": 2, "embedding": [0, 0, 0, 1], "title": "two again"}
JSON

expect_rc 1 "$tool" create "$work/never.db" c --dim 4 --codec int9
[ ! -e "$work/never.db" ] || fail "a failed create left a file behind"
expect_rc 2 "$tool" create "$db" c --dim 4 --raw-tier bogus
expect_rc 0 "$tool" create "$db" c --dim 4 --metric l2 --codec int8 --raw-tier f32 --train-threshold never
expect_rc 0 "$tool" import "$db" c "$work/a.jsonl"
expect_rc 1 "$tool" import "$db" c "$work/b.jsonl"            # id 2 exists
expect_rc 0 "$tool" import "$db" c "$work/b.jsonl" --upsert
expect_rc 0 "$tool" get "$db" c 2 --json
grep -q '"vector": \[0, 0, 0, 1\]' "$work/out" || fail "upsert did not replace item 2: $(cat "$work/out")"
grep -q '"two again"' "$work/out" || fail "upsert did not replace item 2's metadata"
expect_rc 1 "$tool" get "$db" c 99
expect_rc 2 "$tool" get "$db" c notanumber
expect_rc 2 "$tool" get "$db" c
expect_rc 0 "$tool" train "$db" c
expect_rc 0 "$tool" search "$db" c --vector "[0, 0, 0.9, 0]" -k 1 --oversample 3 --rescore raw --json
grep -q '"id": 3' "$work/out" || fail "search did not find item 3: $(cat "$work/out")"
expect_rc 0 "$tool" search "$db" c --vector "[0, 0, 0.9, 0]" -k 2 --rescore exact --json
grep -q '"id": 3' "$work/out" || fail "exact search did not find item 3: $(cat "$work/out")"
expect_rc 2 "$tool" search "$db" c --vector "[0, 0, 1, 0]" --rescore sometimes
expect_rc 2 "$tool" search "$db" c --vector "[0, 0, 1, 0]" --queries "$work/a.jsonl"
expect_rc 0 "$tool" search "$db" c --queries "$work/a.jsonl" -k 1 --oversample 3
[ "$(wc -l <"$work/out")" = 3 ] || fail "--queries did not answer 3 queries"
grep -q '"query": 0, "ids": \[1\]' "$work/out" || fail "--queries: query 0: $(head -1 "$work/out")"
expect_rc 1 "$tool" search "$db" c --queries "$work/missing.fvecs"
# Streaming mode (--memory-cap): the same answers as resident; a cap below one chunk is refused.
expect_rc 0 "$tool" search "$db" c --queries "$work/a.jsonl" -k 2 --oversample 3
cp "$work/out" "$work/resident"
expect_rc 0 "$tool" search "$db" c --queries "$work/a.jsonl" -k 2 --oversample 3 --memory-cap 67108864
cmp -s "$work/out" "$work/resident" || fail "--memory-cap answered otherwise: $(cat "$work/out")"
expect_rc 0 "$tool" search "$db" c --vector "[0, 0, 0.9, 0]" -k 1 --memory-cap 67108864 --json
grep -q '"id": 3' "$work/out" || fail "streaming search did not find item 3: $(cat "$work/out")"
expect_rc 1 "$tool" search "$db" c --vector "[0, 0, 0.9, 0]" --memory-cap 1000
grep -q "memory_cap" "$work/err" || fail "--memory-cap 1000: $(cat "$work/err")"
expect_rc 1 "$tool" delete "$db" c 1 99                          # 99 missing: nothing deleted
expect_rc 0 "$tool" get "$db" c 1
expect_rc 0 "$tool" delete "$db" c 1 3
expect_rc 1 "$tool" get "$db" c 3
# info --check: 0 and "check ok" on a sound file; one damaged code byte (edited with plain SQL,
# as any other program could) gives exit 1, a finding that names the collection, chunk and slot,
# and PVEC_CORRUPT from the commands that read it, never an answer.
expect_rc 0 "$tool" info "$db" --check
grep -q "check        ok" "$work/out" || fail "info --check on a sound file: $(cat "$work/out")"
expect_rc 0 "$tool" info "$db" --check --json
grep -q '"check": {"ok": true' "$work/out" || fail "info --check --json: $(cat "$work/out")"
cp "$db" "$work/damaged.db"
/usr/bin/python3 - "$work/damaged.db" <<'PY' || fail "could not damage the copy"
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
cid, flags = con.execute("SELECT id, flags FROM pvec_collections WHERE name = 'c'").fetchone()
t = "pvec_c%d_chunks" % cid
rowid, cap, data = con.execute("SELECT id, capacity, data FROM %s ORDER BY id LIMIT 1" % t).fetchone()
data = bytearray(data)
code0 = cap // 8 + 16 * cap          # bitmap, ids, norms, sums, [errs]: then slot 0's code
if flags & 2:
    code0 += 4 * cap
data[code0 + 1] ^= 0x10
con.execute("UPDATE %s SET data = ? WHERE id = ?" % t, (bytes(data), rowid))
con.commit()
PY
expect_rc 1 "$tool" info "$work/damaged.db" --check
grep -q "check        DAMAGED" "$work/out" || fail "info --check missed the damage: $(cat "$work/out")"
grep -q "chunk 0" "$work/out" || fail "info --check does not name the chunk: $(cat "$work/out")"
expect_rc 1 "$tool" info "$work/damaged.db" --check --json
grep -q '"ok": false' "$work/out" || fail "info --check --json missed the damage: $(cat "$work/out")"
expect_rc 1 "$tool" search "$work/damaged.db" c --vector "[0, 1, 0, 0]" -k 1
grep -qi "corrupt\|damaged\|checksum" "$work/err" || fail "search on damage: $(cat "$work/err")"
expect_rc 0 "$tool" drop "$db" c
expect_rc 1 "$tool" drop "$db" c
expect_rc 1 "$tool" get "$db" c 2
for cmd in get delete drop; do
    expect_rc 0 "$tool" "$cmd" --help
    grep -q "usage: pocketvec $cmd" "$work/out" || fail "$cmd --help"
done
echo "tool items and queries: ok"
