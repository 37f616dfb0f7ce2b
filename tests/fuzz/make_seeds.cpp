// Writes the seed corpora of tests/fuzz/corpus/ (committed; rerun after a blob format change):
//   fuzz_make_seeds tests/fuzz/corpus
// model/: trained models of every codec (with and without PCA), whole and without their
// checksum (the target appends one); codec_params/: every codec's parameters at a few dimensions;
// chunk_blob/: real chunk rows of f32, int8 and binary collections, with the selector bytes the
// target reads.
#include <pocketvec/pocketvec.h>
#include <sqlite3.h>

#include <cstdio>
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

}  // namespace

int main(int argc, char **argv) {
    using namespace pocketvec;
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
        return 2;
    }
    const std::filesystem::path root = argv[1];
    for (const char *d : {"model", "codec_params", "chunk_blob"}) {
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
    std::printf("wrote %d seeds under %s\n", files, root.c_str());
    return 0;
}
