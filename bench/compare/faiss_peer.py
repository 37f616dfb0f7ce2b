#!/usr/bin/python3
"""The faiss peer of bench/compare (Debian's python3-faiss: a generic build, no AVX2/AVX-512
kernels; say so beside its figures). Built in one process, queried in a fresh one, single thread,
printing one JSON line.

    faiss_peer.py build ENGINE DATA_DIR FILE
    faiss_peer.py query ENGINE DATA_DIR FILE QUERIES K

ENGINE: faiss-f32 (IndexFlatIP), faiss-sq8 (IndexScalarQuantizer QT_8bit, inner product),
faiss-binary (IndexBinaryFlat over sign bits). Vectors are normalised first (every set compare.sh
runs is cosine)."""
import json
import os
import resource
import sys
import time

import faiss
import numpy as np


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    dim = int(raw[0])
    rows = raw.reshape(-1, dim + 1)[:, 1:]
    return rows.view(dtype) if dtype != np.int32 else rows


def load(data_dir):
    base = read_vecs(os.path.join(data_dir, "base.fvecs"), np.float32).copy()
    queries = read_vecs(os.path.join(data_dir, "query.fvecs"), np.float32).copy()
    truth = read_vecs(os.path.join(data_dir, "groundtruth_k100.ivecs"), np.int32)
    faiss.normalize_L2(base)
    faiss.normalize_L2(queries)
    return base, queries, truth


def signs(x):
    # packbits pads the last byte with zero bits, the same in every vector: IndexBinaryFlat needs
    # a whole number of bytes (glove's 100 dimensions become 104 bits).
    return np.packbits(x > 0, axis=1, bitorder="little")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    mode, engine, data_dir, path = sys.argv[1:5]
    faiss.omp_set_num_threads(1)
    base, queries, truth = load(data_dir)
    n, dim = base.shape
    out = {"engine": engine, "set": os.path.basename(os.path.normpath(data_dir)), "n": n, "dim": dim,
           "faiss": faiss.__version__ + " (Debian generic build)"}
    binary = engine == "faiss-binary"
    if mode == "build":
        t0 = time.perf_counter()
        if engine == "faiss-f32":
            index = faiss.IndexFlatIP(dim)
            index.add(base)
            code = 4 * dim
        elif engine == "faiss-sq8":
            index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit,
                                               faiss.METRIC_INNER_PRODUCT)
            index.train(base)
            index.add(base)
            code = dim
        elif binary:
            index = faiss.IndexBinaryFlat(8 * ((dim + 7) // 8))
            index.add(signs(base))
            code = (dim + 7) // 8
        else:
            raise SystemExit("unknown engine " + engine)
        build_s = time.perf_counter() - t0
        (faiss.write_index_binary if binary else faiss.write_index)(index, path)
        out.update(build_s=build_s, code_bytes=code, insert_per_s=n / build_s,
                   file_bytes_per_vector=os.path.getsize(path) / n)
    else:
        nq = min(int(sys.argv[5]), queries.shape[0])
        k = int(sys.argv[6])
        rss0 = rss_bytes()
        t0 = time.perf_counter()
        index = (faiss.read_index_binary if binary else faiss.read_index)(path)
        q_all = signs(queries) if binary else queries
        index.search(q_all[:1], k)
        out["open_ms"] = (time.perf_counter() - t0) * 1000
        times, hits = [], 0
        for r in range(nq):
            q = q_all[r:r + 1]
            s = time.perf_counter()
            _, ids = index.search(q, k)
            times.append((time.perf_counter() - s) * 1000)
            hits += len(set(ids[0].tolist()) & set(truth[r, :k].tolist()))
        times.sort()
        out.update(queries=nq, k=k, p50_ms=times[len(times) // 2],
                   p95_ms=times[min(len(times) - 1, int(0.95 * len(times)))],
                   recall=hits / (nq * k),
                   resident_bytes_per_vector=max(0, rss_bytes() - rss0) / n)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
