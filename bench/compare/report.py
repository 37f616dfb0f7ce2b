#!/usr/bin/python3
"""Turns bench/compare's results.jsonl into the markdown tables of bench/RESULTS.md and checks
issue 14's must-show ratios (each a ratio of two figures measured in the same run).

    report.py results.jsonl"""
import json
import platform
import subprocess
import sys
from collections import defaultdict


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    errors = [r for r in rows if "error" in r]
    rows = [r for r in rows if r and "error" not in r]
    builds, queries, membw, batches = {}, {}, defaultdict(list), []
    kernel = "?"
    for r in rows:
        if "gb_per_s" in r:
            membw[r["set"]].append((r["membw_bytes"], r["gb_per_s"]))
        elif "batch" in r:
            batches.append(r)
        elif "p50_ms" in r:
            queries[(r["set"], r["engine"])] = r
            kernel = r.get("kernel", kernel)
        else:
            builds[(r["set"], r["engine"])] = r

    def bw(set_name, nbytes):
        best = None
        for size, gbs in membw.get(set_name, []):
            if best is None or abs(size - nbytes) < abs(best[0] - nbytes):
                best = (size, gbs)
        return best[1] if best else None

    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print(f"Machine: {cpu_name()}, {cores} cores; pocketvec kernel `{kernel}`. "
          "Single thread, k = 10, median of the runs' p50. faiss is Debian's generic build.\n")
    sets = []
    for (s, _e) in queries:
        if s not in sets:
            sets.append(s)
    for s in sets:
        n = next(q["n"] for (ss, _), q in queries.items() if ss == s)
        print(f"### {s} ({n} vectors)\n")
        print("| engine | code B | file B/vec | resident B/vec | insert/s | open ms | p50 ms | "
              "p95 ms | recall@10 | of floor |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for (ss, e), q in queries.items():
            if ss != s:
                continue
            b = builds.get((s, e.split("@")[0]), {})
            code = b.get("code_bytes", q.get("code_bytes"))
            floor = ""
            if code and e.startswith("pocketvec") and "+r" not in e:
                g = bw(s, code * q["n"])
                if g:
                    floor_ms = code * q["n"] / (g * 1e9) * 1000
                    floor = f"{floor_ms / q['p50_ms']:.0%}"
            print(f"| {e} | {code if code else ''} | {b.get('file_bytes_per_vector', 0):.0f} | "
                  f"{q.get('resident_bytes_per_vector', 0):.0f} | "
                  f"{b.get('insert_per_s', 0):,.0f} | {q['open_ms']:.1f} | {q['p50_ms']:.3f} | "
                  f"{q['p95_ms']:.3f} | {q['recall']:.3f} | {floor} |")
        print()

    # ---- issue 14's ratios
    def p50(s, e):
        q = queries.get((s, e))
        return q["p50_ms"] if q else None

    def rec(s, e):
        q = queries.get((s, e))
        return q["recall"] if q else None

    checks = []

    def ratio(label, s, slow, fast, need, recall_too=False):
        a, b = p50(s, slow), p50(s, fast)
        if a is None or b is None:
            checks.append((label, s, "missing", need, False))
            return
        ok = a / b >= need
        if recall_too:
            ok = ok and rec(s, fast) >= rec(s, slow) - 1e-9
        checks.append((label, s, f"{a / b:.2f}x", f">= {need}x", ok))

    def at_most(label, s, slow, fast, limit):
        a, b = p50(s, slow), p50(s, fast)
        if a is None or b is None:
            checks.append((label, s, "missing", limit, False))
            return
        checks.append((label, s, f"{a / b:.2f}x", f"<= {limit}x", a / b <= limit))

    for s in sets:
        synthetic = s.startswith("synthetic-100k")
        if s.startswith("synthetic-400k"):
            continue
        need = 3 if synthetic else 6
        for peer in ("usearch-i8", "sqlite-vector-int8"):
            ratio(f"1. int8 vs {peer} (recall at least theirs)", s, peer, "pocketvec-int8", need,
                  recall_too=True)
        for peer in ("faiss-binary", "sqlite-vector-1bit"):
            ratio(f"2. binary vs {peer}", s, peer, "pocketvec-binary", 8)
        ratio("3. f32 vs usearch-f32", s, "usearch-f32", "pocketvec-f32", 1.5 if synthetic else 2)
        if synthetic:
            ratio("4. int4 vs pocketvec int8", s, "pocketvec-int8", "pocketvec-int4", 1.6)
            ratio("4. f16 vs pocketvec f32", s, "pocketvec-f32", "pocketvec-f16", 1.6)
            ratio("4. bf16 vs pocketvec f32", s, "pocketvec-f32", "pocketvec-bf16", 1.6)
            ratio("4. e4m3 vs pocketvec f32", s, "pocketvec-f32", "pocketvec-e4m3", 2.5)
            at_most("6. int8+r4 / int8", s, "pocketvec-int8+r4", "pocketvec-int8", 1.3)
            at_most("6. binary+r10 / binary", s, "pocketvec-binary+r10", "pocketvec-binary", 2)
    big = next((s for s in sets if s.startswith("synthetic-400k")), None)
    if big:
        for c in ("f32", "f16", "bf16", "e4m3", "int8", "int4", "binary"):
            q = queries.get((big, "pocketvec-" + c))
            b = builds.get((big, "pocketvec-" + c))
            if q and b:
                g = bw(big, b["code_bytes"] * q["n"])
                frac = b["code_bytes"] * q["n"] / (g * 1e9) * 1000 / q["p50_ms"]
                need = 0.5 if c == "binary" else 0.8
                checks.append((f"5. {c} of the bandwidth floor", big, f"{frac:.0%}",
                               f">= {need:.0%}", frac >= need))
        for c in ("f32", "int8"):
            ratio(f"7. {c}: 1 thread / 2 threads", big, "pocketvec-" + c,
                  "pocketvec-" + c + "@2threads", 1.5)
        for r in batches:
            checks.append(("7. pvec_search_batch of 16 int8 queries / one query", big,
                           f"{r['ratio']:.2f}x", "<= 6x", r["ratio"] <= 6))
        b = builds.get((big, "pocketvec-f32"))
    for s in sets:
        b = builds.get((s, "pocketvec-int8+r4"))
        q = queries.get((s, "pocketvec-int8+r4"))
        if b and s.startswith("synthetic-100k"):
            rate = b.get("insert_trained_per_s", 0)
            checks.append(("8. inserts into trained int8 with the raw tier (int8+r4)", s,
                           f"{rate:,.0f}/s", ">= 100,000/s", rate >= 100000))
        if q and q.get("file_read_ms") and s.startswith("synthetic-100k"):
            r = q["open_ms"] / q["file_read_ms"]
            checks.append(("8. int8+r4 open and load / reading the file once", s, f"{r:.2f}x",
                           "<= 2x", r <= 2))
    for s in sets:
        pv, sv = builds.get((s, "pocketvec-f32")), builds.get((s, "sqlite-vector-f32"))
        if pv and sv:
            checks.append(("8. f32 insert vs sqlite-vector", s,
                           f"{pv['insert_per_s'] / sv['insert_per_s']:.2f}x", ">= 1x",
                           pv["insert_per_s"] >= sv["insert_per_s"]))
    for r in errors:
        print(f"- {r.get('set')}: {r.get('engine')} failed ({r['error']})")
    if errors:
        print()
    print("### Issue 14 ratios (same run)\n")
    print("| check | set | measured | needed | |")
    print("|---|---|---|---|---|")
    for label, s, got, need, ok in checks:
        print(f"| {label} | {s} | {got} | {need} | {'ok' if ok else 'SHORT'} |")


if __name__ == "__main__":
    main()
