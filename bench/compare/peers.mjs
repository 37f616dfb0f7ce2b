// The Node.js peers of bench/compare: USearch exact search, sqlite-vec and SQLite Vector, each
// built in one process and queried in a fresh one, single thread, printing one JSON line.
//
//   node peers.mjs build ENGINE DATA_DIR FILE
//   node peers.mjs query ENGINE DATA_DIR FILE QUERIES K
//
// ENGINE: usearch-f32 usearch-i8 sqlite-vec-f32 sqlite-vec-int8 sqlite-vec-bit
//         sqlite-vector-f32 sqlite-vector-int8 sqlite-vector-1bit
// Every set compare.sh runs is cosine: vectors are normalised before any peer quantizes them
// (their int8 and bit quantizers assume unit-range components), and recall is measured against
// the dataset's exact ground truth as for pocketvec.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(process.env.PVEC_PEERS_DIR + '/package.json');

function readVecs(file, Type) {
  const buf = fs.readFileSync(file);
  const dim = buf.readInt32LE(0);
  const rowBytes = 4 + 4 * dim;
  const rows = buf.length / rowBytes;
  const out = new Type(rows * dim);
  for (let r = 0; r < rows; ++r) {
    const row = new Type(buf.buffer, buf.byteOffset + r * rowBytes + 4, dim);
    out.set(row, r * dim);
  }
  return { rows, dim, data: out };
}

function normalise(m) {
  const out = new Float32Array(m.data.length);
  for (let r = 0; r < m.rows; ++r) {
    let s = 0;
    for (let i = 0; i < m.dim; ++i) s += m.data[r * m.dim + i] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let i = 0; i < m.dim; ++i) out[r * m.dim + i] = m.data[r * m.dim + i] * inv;
  }
  return { rows: m.rows, dim: m.dim, data: out };
}

// Unit components to int8 (x * 127, rounded, clipped): USearch's own i8 convention for cosine.
function toInt8(v) {
  const out = new Int8Array(v.length);
  for (let i = 0; i < v.length; ++i) out[i] = Math.max(-127, Math.min(127, Math.round(v[i] * 127)));
  return out;
}

function loadSet(dir) {
  const base = normalise(readVecs(path.join(dir, 'base.fvecs'), Float32Array));
  const queries = normalise(readVecs(path.join(dir, 'query.fvecs'), Float32Array));
  const truth = readVecs(path.join(dir, 'groundtruth_k100.ivecs'), Int32Array);
  return { base, queries, truth };
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const rss = () => process.memoryUsage().rss;

function sqliteDb(file) {
  const Database = require('better-sqlite3');
  return new Database(file);
}

const kVecExt = () => require.resolve('sqlite-vec-linux-x64/vec0.so');
const kVectorExt = () => require.resolve('@sqliteai/sqlite-vector-linux-x86_64/vector.so');

const engines = {
  'usearch-f32': usearchEngine('f32'),
  'usearch-i8': usearchEngine('i8'),
  'sqlite-vec-f32': sqliteVecEngine('float'),
  'sqlite-vec-int8': sqliteVecEngine('int8'),
  'sqlite-vec-bit': sqliteVecEngine('bit'),
  'sqlite-vector-f32': sqliteVectorEngine(null),
  'sqlite-vector-int8': sqliteVectorEngine('INT8'),
  'sqlite-vector-1bit': sqliteVectorEngine('1BIT'),
};

// USearch exact search has no index: the "file" holds the (quantized) vectors, read back whole.
function usearchEngine(kind) {
  return {
    build(set, file) {
      const t0 = nowMs();
      const data = kind === 'f32' ? set.base.data : toInt8(set.base.data);
      fs.writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      return { build_s: (nowMs() - t0) / 1000, code_bytes: kind === 'f32' ? 4 * set.base.dim : set.base.dim };
    },
    open(set, file) {
      const usearch = require('usearch');
      const buf = fs.readFileSync(file);
      // A copy at offset 0: USearch's exactSearch ignores a typed array's byte offset.
      const data = kind === 'f32' ? new Float32Array(buf.byteLength / 4) : new Int8Array(buf.byteLength);
      new Uint8Array(data.buffer).set(buf);
      return (q, k) => {
        const qq = kind === 'f32' ? Float32Array.from(q) : toInt8(q);
        const m = usearch.exactSearch(data, qq, set.base.dim, k, usearch.MetricKind.Cos, 1);
        return Array.from(m.keys, Number);
      };
    },
  };
}

// sqlite-vec's binary quantizer needs a length divisible by 8: bit vectors are padded with zeros
// (the same zero bits in every vector, so Hamming distances are unchanged).
function padded(v, dim, width) {
  if (width === dim) return v;
  const out = new Float32Array(width);
  out.set(v.subarray(0, dim));
  return out;
}

function sqliteVecEngine(type) {
  const column = type === 'float' ? `float[DIM] distance_metric=cosine` : type === 'int8' ? `int8[DIM] distance_metric=cosine` : `bit[DIM]`;
  const quantize = type === 'float' ? '?' : type === 'int8' ? "vec_quantize_int8(?, 'unit')" : 'vec_quantize_binary(?)';
  return {
    build(set, file) {
      const db = sqliteDb(file);
      db.loadExtension(kVecExt());
      const width = type === 'bit' ? Math.ceil(set.base.dim / 8) * 8 : set.base.dim;
      db.exec(`CREATE VIRTUAL TABLE v USING vec0(embedding ${column.replace('DIM', width)})`);
      const ins = db.prepare(`INSERT INTO v(rowid, embedding) VALUES (?, ${quantize})`);
      const t0 = nowMs();
      db.transaction(() => {
        for (let r = 0; r < set.base.rows; ++r) {
          const row = padded(set.base.data.subarray(r * set.base.dim, (r + 1) * set.base.dim), set.base.dim, width);
          ins.run(BigInt(r), Buffer.from(row.buffer, row.byteOffset, row.byteLength));
        }
      })();
      const build_s = (nowMs() - t0) / 1000;
      db.close();
      const code = type === 'float' ? 4 * set.base.dim : type === 'int8' ? set.base.dim : Math.ceil(set.base.dim / 8);
      return { build_s, code_bytes: code };
    },
    open(set, file) {
      const db = sqliteDb(file);
      db.loadExtension(kVecExt());
      const match = type === 'float' ? '?' : type === 'int8' ? "vec_quantize_int8(?, 'unit')" : 'vec_quantize_binary(?)';
      const stmt = db.prepare(`SELECT rowid FROM v WHERE embedding MATCH ${match} AND k = ? ORDER BY distance`);
      stmt.safeIntegers(true);
      const width = type === 'bit' ? Math.ceil(set.base.dim / 8) * 8 : set.base.dim;
      return (q, k) => {
        const v = padded(q, set.base.dim, width);
        return stmt.all(Buffer.from(v.buffer, v.byteOffset, v.byteLength), BigInt(k)).map((r) => Number(r.rowid));
      };
    },
  };
}

function sqliteVectorEngine(qtype) {
  const init = (db, dim) =>
    db.prepare(`SELECT vector_init('t', 'v', 'dimension=${dim},type=FLOAT32,distance=COSINE')`).get();
  return {
    build(set, file) {
      const db = sqliteDb(file);
      db.loadExtension(kVectorExt());
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)');
      init(db, set.base.dim);
      const ins = db.prepare('INSERT INTO t(id, v) VALUES (?, ?)');
      const t0 = nowMs();
      db.transaction(() => {
        for (let r = 0; r < set.base.rows; ++r) {
          const row = set.base.data.subarray(r * set.base.dim, (r + 1) * set.base.dim);
          ins.run(r, Buffer.from(row.buffer, row.byteOffset, row.byteLength));
        }
      })();
      const insert_s = (nowMs() - t0) / 1000;
      if (qtype) {
        db.prepare(`SELECT vector_quantize('t', 'v', 'qtype=${qtype}')`).get();
      }
      const build_s = (nowMs() - t0) / 1000;
      db.close();
      const code = qtype === null ? 4 * set.base.dim : qtype === 'INT8' ? set.base.dim : Math.ceil(set.base.dim / 8);
      return { build_s, insert_s, code_bytes: code };
    },
    open(set, file) {
      const db = sqliteDb(file);
      db.loadExtension(kVectorExt());
      init(db, set.base.dim);
      let stmt;
      if (qtype) {
        db.prepare("SELECT vector_quantize_preload('t', 'v')").get();
        stmt = db.prepare("SELECT rowid FROM vector_quantize_scan('t', 'v', ?, ?)");
      } else {
        stmt = db.prepare("SELECT rowid FROM vector_full_scan('t', 'v', ?, ?)");
      }
      // k must be bound as an INTEGER: a JS number binds as REAL, which SQLite Vector refuses.
      return (q, k) => stmt.all(Buffer.from(q.buffer, q.byteOffset, q.byteLength), BigInt(k)).map((r) => Number(r.rowid));
    },
  };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function main() {
  const [mode, name, dir, file, nqArg, kArg] = process.argv.slice(2);
  const engine = engines[name];
  if (!engine) throw new Error(`unknown engine ${name}`);
  const set = loadSet(dir);
  const out = { engine: name, set: path.basename(dir), n: set.base.rows, dim: set.base.dim };
  if (mode === 'build') {
    if (fs.existsSync(file)) fs.rmSync(file);
    const r = engine.build(set, file);
    Object.assign(out, r, {
      insert_per_s: set.base.rows / (r.insert_s ?? r.build_s),
      file_bytes_per_vector: fs.statSync(file).size / set.base.rows,
    });
  } else if (mode === 'query') {
    const nq = Math.min(Number(nqArg), set.queries.rows);
    const k = Number(kArg);
    const rss0 = rss();
    const t0 = nowMs();
    const search = engine.open(set, file);
    const first = search(set.queries.data.subarray(0, set.queries.dim), k); // open includes the first query's load
    out.open_ms = nowMs() - t0;
    void first;
    const times = [];
    let hits = 0;
    for (let r = 0; r < nq; ++r) {
      const q = set.queries.data.slice(r * set.queries.dim, (r + 1) * set.queries.dim);
      const s = nowMs();
      const ids = search(q, k);
      times.push(nowMs() - s);
      const truth = new Set(set.truth.data.subarray(r * set.truth.dim, r * set.truth.dim + k));
      for (const id of ids) hits += truth.has(id) ? 1 : 0;
    }
    times.sort((a, b) => a - b);
    Object.assign(out, {
      queries: nq,
      k,
      p50_ms: percentile(times, 0.5),
      p95_ms: percentile(times, 0.95),
      recall: hits / (nq * k),
      resident_bytes_per_vector: Math.max(0, rss() - rss0) / set.base.rows,
    });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  console.log(JSON.stringify(out));
}

main();
