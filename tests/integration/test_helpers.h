// Helpers for end-to-end tests that use the C API only.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pocketvec/pocketvec.h"

namespace pvtest {

// A fresh file path per test (and per tag, for a test that needs several), removed (with its
// journal) before and after.
class TempDb {
public:
    explicit TempDb(const std::string &tag = "") {
        const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name = std::string(info->test_suite_name()) + "_" + info->name();
        for (char &ch : name) {
            if (!std::isalnum(static_cast<unsigned char>(ch))) {
                ch = '_';
            }
        }
        path_ = ::testing::TempDir() + "pvec_" + name + "_" + std::to_string(getpid()) + tag + ".db";
        remove_files();
    }
    ~TempDb() { remove_files(); }
    const std::string &path() const { return path_; }
    const char *c_str() const { return path_.c_str(); }

private:
    void remove_files() {
        std::remove(path_.c_str());
        std::remove((path_ + "-journal").c_str());
        std::remove((path_ + "-wal").c_str());
        std::remove((path_ + "-shm").c_str());
    }
    std::string path_;
};

// Exports the collection's model and imports it again: every item re-encoded with the same model,
// the model version moved (a model import that changes no answer).
inline int reimport_own_model(pvec_collection *c) {
    void *blob = nullptr;
    size_t size = 0;
    int rc = pvec_model_export(c, &blob, &size, nullptr);
    if (rc == PVEC_OK) {
        rc = pvec_model_import(c, blob, size, nullptr);
    }
    pvec_free(blob);
    return rc;
}

// Fails the test with the message when rc is not PVEC_OK.
#define PV_OK(call)                                                                                \
    do {                                                                                           \
        char *pv_err_ = nullptr;                                                                   \
        int pv_rc_ = (call);                                                                       \
        (void)pv_err_;                                                                             \
        ASSERT_EQ(pv_rc_, PVEC_OK) << #call << ": " << pvec_errstr(pv_rc_);                        \
    } while (0)

inline pvec_db *open_db(const std::string &path, uint32_t flags = 0) {
    pvec_open_options o = PVEC_OPEN_OPTIONS_INIT;
    o.flags = flags;
    pvec_db *db = nullptr;
    char *err = nullptr;
    int rc = pvec_db_open(path.c_str(), &o, &db, &err);
    EXPECT_EQ(rc, PVEC_OK) << (err ? err : "");
    pvec_free(err);
    return db;
}

inline pvec_collection *create(pvec_db *db, const char *name, uint32_t dim, uint32_t metric) {
    pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
    o.dim = dim;
    o.metric = metric;
    pvec_collection *c = nullptr;
    char *err = nullptr;
    int rc = pvec_collection_create(db, name, &o, &c, &err);
    EXPECT_EQ(rc, PVEC_OK) << (err ? err : "");
    pvec_free(err);
    return c;
}

inline pvec_collection *open_coll(pvec_db *db, const char *name) {
    pvec_collection *c = nullptr;
    char *err = nullptr;
    int rc = pvec_collection_open(db, name, &c, &err);
    EXPECT_EQ(rc, PVEC_OK) << (err ? err : "");
    pvec_free(err);
    return c;
}

// Small integers: every sum the kernels form is exact in float, so SIMD and the double oracle
// agree bit for bit and ties are real ties.
inline std::vector<float> integer_vectors(std::size_t n, std::size_t dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> d(-6, 6);
    std::vector<float> v(n * dim);
    for (float &x : v) {
        x = static_cast<float>(d(rng));
    }
    return v;
}

inline std::vector<float> gaussian_vectors(std::size_t n, std::size_t dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n * dim);
    for (float &x : v) {
        x = d(rng);
    }
    return v;
}

struct Item {
    int64_t id;
    std::vector<float> vec;
};

// Brute-force oracle in double: (score, id) of every item, best first, ties by smaller id.
inline std::vector<std::pair<double, int64_t>> oracle_scores(const std::vector<Item> &items,
                                                             const float *q, std::size_t dim,
                                                             uint32_t metric) {
    std::vector<std::pair<double, int64_t>> s;
    double qn = 0;
    for (std::size_t i = 0; i < dim; ++i) {
        qn += double(q[i]) * q[i];
    }
    for (const Item &it : items) {
        double dot = 0, l2 = 0, xn = 0;
        for (std::size_t i = 0; i < dim; ++i) {
            dot += double(q[i]) * it.vec[i];
            l2 += (double(q[i]) - it.vec[i]) * (double(q[i]) - it.vec[i]);
            xn += double(it.vec[i]) * it.vec[i];
        }
        double score = metric == PVEC_METRIC_L2    ? l2
                       : metric == PVEC_METRIC_DOT ? -dot
                       : (qn > 0 && xn > 0 ? 1 - dot / std::sqrt(qn * xn) : 1.0);
        s.emplace_back(score, it.id);
    }
    std::sort(s.begin(), s.end());
    return s;
}

// The k best ids by the oracle.
inline std::vector<int64_t> oracle(const std::vector<Item> &items, const float *q, std::size_t dim,
                                   uint32_t metric, std::size_t k) {
    auto s = oracle_scores(items, q, dim, metric);
    std::vector<int64_t> ids;
    for (std::size_t i = 0; i < std::min(k, s.size()); ++i) {
        ids.push_back(s[i].second);
    }
    return ids;
}

inline std::vector<int64_t> search_ids(pvec_collection *c, const float *q, std::size_t dim,
                                       std::size_t k, std::vector<float> *scores = nullptr) {
    std::vector<int64_t> ids(k);
    std::vector<float> sc(k);
    std::size_t n = 0;
    char *err = nullptr;
    int rc = pvec_search(c, q, dim, k, nullptr, ids.data(), sc.data(), &n, &err);
    EXPECT_EQ(rc, PVEC_OK) << (err ? err : "");
    pvec_free(err);
    ids.resize(n);
    sc.resize(n);
    if (scores) {
        *scores = sc;
    }
    return ids;
}

inline uint64_t count(pvec_collection *c) {
    uint64_t n = 0;
    EXPECT_EQ(pvec_count(c, &n, nullptr), PVEC_OK);
    return n;
}

}  // namespace pvtest
