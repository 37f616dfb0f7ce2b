// Exact f32 search on the real datasets in ../shared/data reaches their float64 ground truth.
#include <sys/stat.h>

#include <fstream>

#include "test_helpers.h"

using namespace pvtest;

namespace {

struct Vectors {
    std::size_t n = 0, dim = 0;
    std::vector<float> data;
};

// fvecs / ivecs: per row an int32 dimension, then that many 4-byte values.
template <class T>
bool read_vecs(const std::string &path, std::size_t max_rows, std::size_t *dim, std::vector<T> *out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        return false;
    }
    int32_t d = 0;
    std::size_t rows = 0;
    while (rows < max_rows && f.read(reinterpret_cast<char *>(&d), 4)) {
        std::size_t old = out->size();
        out->resize(old + d);
        f.read(reinterpret_cast<char *>(out->data() + old), d * 4);
        *dim = d;
        ++rows;
    }
    return true;
}

uint32_t metric_of(const std::string &dir) {
    std::ifstream f(dir + "/README.md");
    std::string line;
    while (std::getline(f, line)) {
        if (line.find("Metric:") != std::string::npos) {
            std::string l;
            for (char ch : line) {
                l += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            }
            if (l.find("cosine") != std::string::npos) return PVEC_METRIC_COSINE;
            if (l.find("l2") != std::string::npos || l.find("euclid") != std::string::npos)
                return PVEC_METRIC_L2;
            return PVEC_METRIC_DOT;
        }
    }
    return 0;
}

class Dataset : public ::testing::TestWithParam<const char *> {};

TEST_P(Dataset, ExactSearchMatchesGroundTruth) {
    const std::string dir = std::string(PVEC_DATA_DIR) + "/" + GetParam();
    struct stat st;
    if (stat((dir + "/base.fvecs").c_str(), &st) != 0) {
        GTEST_SKIP() << "dataset " << dir << " is absent (../shared/data not beside the repository)";
    }
    std::size_t dim = 0, qdim = 0, gdim = 0;
    std::vector<float> base, queries;
    std::vector<int32_t> truth;
    ASSERT_TRUE(read_vecs(dir + "/base.fvecs", SIZE_MAX, &dim, &base));
    ASSERT_TRUE(read_vecs(dir + "/query.fvecs", 200, &qdim, &queries));
    ASSERT_TRUE(read_vecs(dir + "/groundtruth_k100.ivecs", 200, &gdim, &truth));
    const uint32_t metric = metric_of(dir);
    ASSERT_NE(metric, 0u) << "no metric line in " << dir << "/README.md";
    const std::size_t n = base.size() / dim, nq = queries.size() / dim;

    TempDb tmp;
    pvec_db *db = open_db(tmp.path());
    pvec_collection *c = create(db, "data", static_cast<uint32_t>(dim), metric);
    std::vector<int64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) {
        ids[i] = static_cast<int64_t>(i);
    }
    PV_OK(pvec_add_batch(c, n, ids.data(), base.data(), dim, nullptr, nullptr));
    std::size_t hit = 0;
    for (std::size_t q = 0; q < nq; ++q) {
        auto got = search_ids(c, &queries[q * dim], dim, 10);
        for (int64_t id : got) {
            for (int j = 0; j < 10; ++j) {
                hit += truth[q * gdim + j] == id;
            }
        }
    }
    const double recall = double(hit) / double(nq * 10);
    EXPECT_GE(recall, 0.999) << GetParam();
    pvec_collection_close(c);
    PV_OK(pvec_db_close(db));
}

INSTANTIATE_TEST_SUITE_P(Shared, Dataset,
                         ::testing::Values("glove6b-100d-top50k", "wordnet-uselite512-25k",
                                           "sap-fiori-docs-minilm384", "cohere-768-ip",
                                           "bge-m3-1024", "sift-128"),
                         [](const auto &info) {
                             std::string s = info.param;
                             for (char &ch : s) {
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             }
                             return s;
                         });

}  // namespace
