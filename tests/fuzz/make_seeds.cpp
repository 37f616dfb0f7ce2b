// Writes the seed corpora of tests/fuzz/corpus/ (committed; rerun after a blob format change):
//   fuzz_make_seeds tests/fuzz/corpus
// model/: trained models of every codec (with and without PCA), whole and without their
// checksum (the target appends one); codec_params/: every codec's parameters at a few dimensions;
// chunk_blob/: real chunk rows of f32, int8 and binary collections, with the selector bytes the
// target reads; meta_json/, fvecs/, npy/, jsonl/: small valid inputs and the ways they go wrong
// (truncation, wrong magic, dtype or shape, huge declared sizes, deep nesting, invalid UTF-8).
#include <pocketvec/pocketvec.h>
#include <sqlite3.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "model/model.h"

namespace {

void write(const std::filesystem::path &p, const std::vector<uint8_t> &bytes) {
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<float> sample(std::size_t n, std::size_t dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    std::vector<float> v(n * dim);
    for (float &x : v) {
        x = d(rng);
    }
    return v;
}


void write_text(const std::filesystem::path &p, const std::string &text) {
    write(p, std::vector<uint8_t>(text.begin(), text.end()));
}

void put_le32(std::vector<uint8_t> &out, uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        out.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
}

void put_f32(std::vector<uint8_t> &out, float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    put_le32(out, bits);
}

// rows x dim values of an fvecs file (each row: int32 dimension, then the floats).
std::vector<uint8_t> fvecs(std::size_t rows, uint32_t dim, float bad = 0,
                           std::size_t bad_at = SIZE_MAX) {
    std::vector<uint8_t> out;
    for (std::size_t r = 0; r < rows; ++r) {
        put_le32(out, dim);
        for (uint32_t c = 0; c < dim; ++c) {
            put_f32(out, r * dim + c == bad_at ? bad : 0.5f * static_cast<float>(r) - 0.25f * c);
        }
    }
    return out;
}

// A .npy file of format `major` with header dict `dict`, padded as NumPy pads it (to 64 bytes,
// ending in a newline), followed by `data_bytes` bytes of float data (small values).
std::vector<uint8_t> npy(const std::string &dict, std::size_t data_bytes, unsigned major = 1,
                         std::size_t item = 4) {
    const std::size_t pre = major == 1 ? 10 : 12;
    std::string header = dict;
    while ((pre + header.size() + 1) % 64 != 0) {
        header += ' ';
    }
    header += '\n';
    std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
    if (major == 1) {
        out.push_back(static_cast<uint8_t>(header.size()));
        out.push_back(static_cast<uint8_t>(header.size() >> 8));
    } else {
        put_le32(out, static_cast<uint32_t>(header.size()));
    }
    out.insert(out.end(), header.begin(), header.end());
    for (std::size_t i = 0; i < data_bytes / item; ++i) {
        if (item == 4) {
            put_f32(out, 0.125f * static_cast<float>(i % 17));
        } else {
            double d = 0.125 * static_cast<double>(i % 17);
            uint64_t bits;
            std::memcpy(&bits, &d, 8);
            put_le32(out, static_cast<uint32_t>(bits));
            put_le32(out, static_cast<uint32_t>(bits >> 32));
        }
    }
    return out;
}

std::string npy_dict(const std::string &descr, const std::string &shape, bool fortran = false) {
    return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
           ", 'shape': " + shape + ", }";
}

int tool_seeds(const std::filesystem::path &root) {
    int files = 0;
    auto text = [&](const char *dir, const char *name, const std::string &t) {
        write_text(root / dir / name, t);
        ++files;
    };
    auto bytes = [&](const char *dir, const char *name, const std::vector<uint8_t> &b) {
        write(root / dir / name, b);
        ++files;
    };
    const std::string deep_ok = std::string(500, '[') + std::string(500, ']');
    const std::string deep_bad = std::string(3000, '[') + std::string(3000, ']');

    // meta_json/: the text up to the first NUL; a last byte 0xff repeats it past 1 MiB.
    text("meta_json", "object",
         R"({"title":"a","tags":["x","y"],"n":3.5e-2,"ok":true,"none":null})");
    text("meta_json", "array", "[1,2,3]");
    text("meta_json", "scalars", "\"just a string\"");
    text("meta_json", "number", "-0.0e+10");
    text("meta_json", "empty", "");
    text("meta_json", "truncated", R"({"title":"a","tags":["x",)");
    text("meta_json", "json5", "{title:'a',}");
    text("meta_json", "invalid_utf8", "{\"k\":\"\xff\xfe\xc3\"}");
    text("meta_json", "escapes", R"({"k":"\u00e9\ud83d\ude00\n\"","\u0000":1})");
    text("meta_json", "bad_escape", R"({"k":"\x41"})");
    text("meta_json", "deep_ok", deep_ok);
    text("meta_json", "deep_bad", deep_bad);
    text("meta_json", "two_values", "{} {}");
    text("meta_json", "nul_inside", std::string("{\"a\":1}\0garbage", 15));
    text("meta_json", "over_1mib", "[1,2,3]\xff");

    // fvecs/
    bytes("fvecs", "valid_3x4", fvecs(3, 4));
    bytes("fvecs", "valid_1x1", fvecs(1, 1));
    bytes("fvecs", "empty", {});
    auto t = fvecs(3, 4);
    t.resize(t.size() - 5);
    bytes("fvecs", "truncated_row", t);
    t = fvecs(2, 4);
    t.resize(t.size() + 2);
    bytes("fvecs", "truncated_header", t);
    std::vector<uint8_t> b;
    put_le32(b, 0);
    bytes("fvecs", "dim_zero", b);
    b.clear();
    put_le32(b, 0xffffffffu);
    put_f32(b, 1);
    bytes("fvecs", "dim_negative", b);
    b.clear();
    put_le32(b, 0x7fffffffu);
    put_f32(b, 1);
    bytes("fvecs", "dim_huge", b);
    b.clear();
    put_le32(b, 65537);
    bytes("fvecs", "dim_over_max", b);
    t = fvecs(2, 4);
    t[20] = 5; // row 1 declares dimension 5
    bytes("fvecs", "dim_changes", t);
    bytes("fvecs", "nan", fvecs(3, 4, std::nanf(""), 6));
    bytes("fvecs", "inf", fvecs(2, 2, INFINITY, 3));

    // npy/
    bytes("npy", "f4_3x4", npy(npy_dict("<f4", "(3, 4)"), 48));
    bytes("npy", "f8_2x3", npy(npy_dict("<f8", "(2, 3)"), 48, 1, 8));
    bytes("npy", "v2_f4_2x2", npy(npy_dict("<f4", "(2, 2)"), 16, 2));
    bytes("npy", "rows_0", npy(npy_dict("<f4", "(0, 4)"), 0));
    auto n = npy(npy_dict("<f4", "(3, 4)"), 48);
    n.resize(n.size() - 10);
    bytes("npy", "truncated_data", n);
    n.resize(40);
    bytes("npy", "truncated_header", n);
    n = npy(npy_dict("<f4", "(3, 4)"), 48);
    n[1] = 'n';
    bytes("npy", "bad_magic", n);
    bytes("npy", "version_4", npy(npy_dict("<f4", "(1, 1)"), 4, 4));
    bytes("npy", "dtype_i4", npy(npy_dict("<i4", "(2, 2)"), 16));
    bytes("npy", "structured",
          npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8));
    bytes("npy", "fortran", npy(npy_dict("<f4", "(2, 2)", true), 16));
    bytes("npy", "shape_1d", npy(npy_dict("<f4", "(4,)"), 16));
    bytes("npy", "dim_0", npy(npy_dict("<f4", "(3, 0)"), 0));
    bytes("npy", "dim_over_max", npy(npy_dict("<f4", "(1, 65537)"), 16));
    // Huge declared shapes: far beyond the file, a byte count that wraps around 2^64 once the
    // header is added, and one that overflows the multiplication.
    bytes("npy", "shape_huge", npy(npy_dict("<f4", "(1099511627776, 128)"), 16));
    bytes("npy", "shape_wraps", npy(npy_dict("<f4", "(4611686018427387903, 1)"), 64));
    bytes("npy", "shape_overflow", npy(npy_dict("<f8", "(9223372036854775807, 4)"), 64, 1, 8));
    bytes("npy", "shape_digits", npy(npy_dict("<f4", "(99999999999999999999999, 4)"), 16));
    n = npy(npy_dict("<f4", "(1, 1)"), 4, 2);
    n[8] = n[9] = n[10] = n[11] = 0xff; // header length 4 GiB
    bytes("npy", "header_len_huge", n);
    n = npy(npy_dict("<f8", "(1, 2)"), 16, 1, 8);
    std::memcpy(n.data() + n.size() - 8, "\x00\x00\x00\x00\x00\x00\xe0\x7f", 8); // 2^1023
    bytes("npy", "f8_beyond_float", n);

    // jsonl/ (the whole input also goes to parse_record and parse_vector)
    text("jsonl", "valid",
         "{\"id\": 7, \"embedding\": [0.5, -1, 2e3], \"title\": \"a\"}\n"
         "{\"id\": 8, \"embedding\": [1, 2, 3]}\n"
         "\n  \r\n{\"embedding\": [0, 0, 1], \"tags\": [\"x\"], \"id\": null}\r\n");
    text("jsonl", "one_record", "{\"embedding\":[1.5,2.5],\"m\":{\"k\":[1,{}]}}");
    text("jsonl", "vector", "[1, 2.5, -3e-2]");
    text("jsonl", "empty", "");
    text("jsonl", "blank_lines", "\n \t\n\r\n");
    text("jsonl", "no_embedding", "{\"id\": 1, \"vec\": [1]}\n");
    text("jsonl", "embedding_string", "{\"embedding\": \"1,2\"}\n");
    text("jsonl", "embedding_mixed", "{\"embedding\": [1, \"2\", true, null]}\n");
    text("jsonl", "embedding_empty", "{\"embedding\": []}\n");
    text("jsonl", "beyond_float", "{\"embedding\": [1e39, 1]}\n");
    text("jsonl", "id_real", "{\"id\": 1.5, \"embedding\": [1]}\n");
    text("jsonl", "id_huge", "{\"id\": 9223372036854775808, \"embedding\": [1]}\n");
    text("jsonl", "dim_mismatch", "{\"embedding\": [1, 2]}\n{\"embedding\": [1, 2, 3]}\n");
    text("jsonl", "truncated", "{\"embedding\": [1, 2]}\n{\"embedding\": [1,");
    text("jsonl", "not_object", "[[1, 2]]\n");
    text("jsonl", "invalid_utf8", "{\"embedding\": [1], \"name\": \"\xc3\x28\xff\"}\n");
    text("jsonl", "deep_meta", "{\"embedding\": [1], \"m\": " + deep_ok + "}\n");
    text("jsonl", "deep_bad", "{\"embedding\": [1], \"m\": " + deep_bad + "}\n");
    return files;
}

}  // namespace

int main(int argc, char **argv) {
    using namespace pocketvec;
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
        return 2;
    }
    const std::filesystem::path root = argv[1];
    for (const char *d :
         {"model", "codec_params", "chunk_blob", "meta_json", "fvecs", "npy", "jsonl"}) {
        std::filesystem::create_directories(root / d);
    }
    int files = 0;
    for (uint32_t c = 0; c < codec::kCodecCount; ++c) {
        const auto id = static_cast<codec::CodecId>(c);
        for (uint32_t dim : {1u, 7u, 33u}) {
            const auto x = sample(64, dim, 1 + c + dim);
            codec::CodecParams p;
            if (codec::train(id, x.data(), 64, dim, &p).is_ok()) {
                write(root / "codec_params" / (std::string(codec::codec_name(id)) + "_" +
                                               std::to_string(dim)),
                      p.serialize());
                ++files;
            }
        }
        for (uint32_t pca : {0u, 4u}) {
            const auto x = sample(200, 12, 7 + c);
            model::Model m;
            if (!model::fit(x.data(), 200, 12, Metric::cosine, id, pca, pca != 0, 42, &m).is_ok()) {
                continue;
            }
            const std::vector<uint8_t> blob = m.serialize();
            const std::string name = std::string(codec::codec_name(id)) + (pca ? "_pca4" : "");
            write(root / "model" / name, blob);
            write(root / "model" / (name + "_body"),
                  std::vector<uint8_t>(blob.begin(), blob.end() - 8));
            files += 2;
        }
    }
    // Chunk rows, read back from databases built the way the target builds them.
    for (uint8_t selector = 0; selector < 3; ++selector) {
        sqlite3 *conn = nullptr;
        sqlite3_open(":memory:", &conn);
        pvec_db *db = nullptr;
        pvec_db_attach(conn, nullptr, &db, nullptr);
        static const char *const kCodecs[] = {"f32", "int8", "binary"};
        pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
        o.dim = 8;
        o.metric = PVEC_METRIC_L2;
        o.codec = kCodecs[selector];
        o.train_threshold = PVEC_TRAIN_NEVER;
        pvec_collection *c = nullptr;
        pvec_collection_create(db, "c", &o, &c, nullptr);
        const auto v = sample(40, 8, 3);
        std::vector<int64_t> ids(40);
        for (int i = 0; i < 40; ++i) {
            ids[i] = i;
        }
        pvec_add_batch(c, 40, ids.data(), v.data(), 8, nullptr, nullptr);
        if (selector != 0) {
            pvec_collection_train(c, nullptr, nullptr);
        }
        pvec_collection_close(c);
        pvec_db_close(db);
        sqlite3_stmt *s = nullptr;
        sqlite3_prepare_v2(conn, "SELECT name FROM sqlite_master WHERE name LIKE 'pvec_c%_chunks'",
                           -1, &s, nullptr);
        sqlite3_step(s);
        const std::string table = reinterpret_cast<const char *>(sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        sqlite3_prepare_v2(conn, ("SELECT capacity, data FROM " + table + " WHERE id = 0").c_str(),
                           -1, &s, nullptr);
        sqlite3_step(s);
        const int64_t capacity = sqlite3_column_int64(s, 0);
        const auto *blob = static_cast<const uint8_t *>(sqlite3_column_blob(s, 1));
        std::vector<uint8_t> row{selector, static_cast<uint8_t>(capacity == 32 ? 0 : capacity == 64 ? 64 : 128)};
        row.insert(row.end(), blob, blob + sqlite3_column_bytes(s, 1));
        sqlite3_finalize(s);
        sqlite3_close(conn);
        write(root / "chunk_blob" / (std::string(kCodecs[selector]) + "_row"), row);
        std::vector<uint8_t> flipped = row;
        flipped[flipped.size() / 2] ^= 0x40;
        write(root / "chunk_blob" / (std::string(kCodecs[selector]) + "_flipped"), flipped);
        write(root / "chunk_blob" / (std::string(kCodecs[selector]) + "_short"),
              std::vector<uint8_t>(row.begin(), row.begin() + static_cast<long>(row.size() / 3)));
        files += 3;
    }
    files += tool_seeds(root);
    std::printf("wrote %d seeds under %s\n", files, root.c_str());
    return 0;
}
