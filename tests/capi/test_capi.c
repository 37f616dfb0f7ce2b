/* The C ABI from C99: the header alone compiles, status codes keep their pinned values, and the
 * basic calls work with plain C types. Exits nonzero with a message on the first failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pocketvec/pocketvec.h"

/* Pinned forever: a change here breaks every binary built against an older header. */
typedef char pin_ok[PVEC_OK == 0 ? 1 : -1];
typedef char pin_error[PVEC_ERROR == 1 ? 1 : -1];
typedef char pin_misuse[PVEC_MISUSE == 2 ? 1 : -1];
typedef char pin_notfound[PVEC_NOTFOUND == 3 ? 1 : -1];
typedef char pin_exists[PVEC_EXISTS == 4 ? 1 : -1];
typedef char pin_dim[PVEC_DIM == 5 ? 1 : -1];
typedef char pin_range[PVEC_RANGE == 6 ? 1 : -1];
typedef char pin_nomem[PVEC_NOMEM == 7 ? 1 : -1];
typedef char pin_io[PVEC_IO == 8 ? 1 : -1];
typedef char pin_corrupt[PVEC_CORRUPT == 9 ? 1 : -1];
typedef char pin_busy[PVEC_BUSY == 10 ? 1 : -1];
typedef char pin_readonly[PVEC_READONLY == 11 ? 1 : -1];
typedef char pin_format[PVEC_FORMAT == 12 ? 1 : -1];
typedef char pin_invalid[PVEC_INVALID == 13 ? 1 : -1];
typedef char pin_unsupported[PVEC_UNSUPPORTED == 14 ? 1 : -1];
typedef char pin_cosine[PVEC_METRIC_COSINE == 1 ? 1 : -1];
typedef char pin_dot[PVEC_METRIC_DOT == 2 ? 1 : -1];
typedef char pin_l2[PVEC_METRIC_L2 == 3 ? 1 : -1];

static int failures = 0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);              \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_RC(call, want)                                                                       \
    do {                                                                                           \
        char *msg_ = NULL;                                                                         \
        int rc_ = (call);                                                                          \
        (void)msg_;                                                                                \
        if (rc_ != (want)) {                                                                       \
            fprintf(stderr, "%s:%d: %s returned %d (%s), wanted %d\n", __FILE__, __LINE__, #call,   \
                    rc_, pvec_errstr(rc_), (want));                                                \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "test_capi.db";
    pvec_db *db = NULL;
    pvec_collection *coll = NULL;
    pvec_collection_options copts;
    pvec_open_options oopts = PVEC_OPEN_OPTIONS_INIT;
    pvec_collection_info info;
    char *err = NULL;
    char *meta = NULL;
    float vecs[3 * 4] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    int64_t ids[3] = {10, 20, 30};
    const char *metas[3] = {"{\"t\":\"a\"}", NULL, "[1,2,3]"};
    float query[4] = {0.1f, 0.9f, 0.0f, 0.0f};
    int64_t out_ids[5];
    float out_scores[5];
    size_t n = 0;
    float got[4];
    char **names = NULL;
    size_t count = 0;
    uint64_t live = 0;

    remove(path);
    CHECK(pvec_version_number() == PVEC_VERSION_NUMBER);
    CHECK(strcmp(pvec_version_string(), PVEC_VERSION_STRING) == 0);
    CHECK(strcmp(pvec_errstr(PVEC_OK), "ok") == 0);
    CHECK(strcmp(pvec_errstr(12345), "unknown status") == 0);
    CHECK(pvec_kernel_name() != NULL && pvec_kernel_name()[0] != '\0');

    CHECK_RC(pvec_db_open(path, &oopts, &db, NULL), PVEC_OK);
    pvec_collection_options_init(&copts);
    CHECK(copts.struct_size == sizeof copts);
    copts.dim = 4;
    copts.metric = PVEC_METRIC_COSINE;
    CHECK_RC(pvec_collection_create(db, "notes", &copts, &coll, NULL), PVEC_OK);
    CHECK_RC(pvec_add_batch(coll, 3, ids, vecs, 4, metas, NULL), PVEC_OK);

    CHECK_RC(pvec_search(coll, query, 4, 5, NULL, out_ids, out_scores, &n, NULL), PVEC_OK);
    CHECK(n == 3);
    CHECK(out_ids[0] == 20 && out_ids[1] == 10 && out_ids[2] == 30);
    CHECK(out_scores[0] <= out_scores[1] && out_scores[1] <= out_scores[2]);
    CHECK(fabsf(out_scores[2] - 1.0f) < 1e-6f); /* orthogonal: 1 - cos = 1 */

    CHECK_RC(pvec_get(coll, 10, got, 4, &meta, NULL), PVEC_OK);
    CHECK(memcmp(got, vecs, sizeof got) == 0);
    CHECK(meta != NULL && strcmp(meta, "{\"t\":\"a\"}") == 0);
    pvec_free(meta);
    CHECK_RC(pvec_get(coll, 20, NULL, 0, &meta, NULL), PVEC_OK);
    CHECK(meta == NULL);

    /* errmsg: set on failure, NULL on success. */
    CHECK_RC(pvec_add(coll, 10, vecs, 4, NULL, &err), PVEC_EXISTS);
    CHECK(err != NULL && strlen(err) > 0);
    pvec_free(err);
    err = (char *)1;
    CHECK_RC(pvec_count(coll, &live, &err), PVEC_OK);
    CHECK(err == NULL && live == 3);
    CHECK_RC(pvec_add(coll, 40, vecs, 3, NULL, NULL), PVEC_DIM);
    CHECK_RC(pvec_search(coll, query, 4, 0, NULL, out_ids, NULL, &n, NULL), PVEC_RANGE);

    info.struct_size = sizeof info;
    CHECK_RC(pvec_collection_info_get(coll, &info, NULL), PVEC_OK);
    CHECK(info.dim == 4 && info.count == 3 && info.metric == PVEC_METRIC_COSINE);
    CHECK(strcmp(info.codec, "f32") == 0 && strcmp(info.name, "notes") == 0);
    CHECK(info.code_bytes == 16 && info.capacity == 32 && info.bytes_used > 0);

    /* Streaming mode (since 0.2): the same answer through a capped handle. */
    {
        pvec_collection_open_options sopts = PVEC_COLLECTION_OPEN_OPTIONS_INIT;
        pvec_collection *streamed = NULL;
        int64_t s_ids[5];
        float s_scores[5];
        size_t s_n = 0;
        CHECK(sopts.struct_size == sizeof sopts && sopts.memory_cap == 0);
        sopts.memory_cap = 1;
        CHECK_RC(pvec_collection_open_v2(db, "notes", &sopts, &streamed, NULL), PVEC_RANGE);
        CHECK(streamed == NULL);
        sopts.memory_cap = (uint64_t)64 << 20;
        CHECK_RC(pvec_collection_open_v2(db, "notes", &sopts, &streamed, NULL), PVEC_OK);
        CHECK_RC(pvec_search(streamed, query, 4, 5, NULL, s_ids, s_scores, &s_n, NULL), PVEC_OK);
        CHECK(s_n == 3 && memcmp(s_ids, out_ids, 3 * sizeof s_ids[0]) == 0);
        CHECK(memcmp(s_scores, out_scores, 3 * sizeof s_scores[0]) == 0);
        CHECK_RC(pvec_add(streamed, 50, vecs, 4, NULL, NULL), PVEC_UNSUPPORTED);
        info.struct_size = sizeof info;
        CHECK_RC(pvec_collection_info_get(streamed, &info, NULL), PVEC_OK);
        CHECK(info.memory_cap == sopts.memory_cap && info.min_memory_cap > 0 && info.count == 3);
        pvec_collection_close(streamed);
    }

    CHECK_RC(pvec_collection_list(db, &names, &count, NULL), PVEC_OK);
    CHECK(count == 1 && strcmp(names[0], "notes") == 0);
    pvec_free(names);

    CHECK_RC(pvec_db_close(db), PVEC_BUSY);
    pvec_collection_close(coll);
    CHECK_RC(pvec_db_close(db), PVEC_OK);
    CHECK_RC(pvec_db_close(NULL), PVEC_OK);
    pvec_free(NULL);
    remove(path);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("C ABI checks passed\n");
    return 0;
}
