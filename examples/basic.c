/*
 * basic.c: store a few vectors with metadata, search them, read one back.
 *
 *   example_basic [DB_PATH]
 *
 * Every call returns a status; on failure the example prints pvec_errstr(rc) and the detailed
 * message, frees the message with pvec_free, and exits nonzero.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pocketvec/pocketvec.h>

#define DIM 4
#define K 3

/* Prints a failed call's status and message; returns nonzero when rc is not PVEC_OK. */
static int failed(int rc, const char *what, char *errmsg) {
    if (rc == PVEC_OK) {
        pvec_free(errmsg); /* NULL on success; freeing it anyway is harmless */
        return 0;
    }
    fprintf(stderr, "%s: %s (%s)\n", what, pvec_errstr(rc), errmsg ? errmsg : "no details");
    pvec_free(errmsg);
    return 1;
}

/* Starts from an empty file so that reruns behave the same. */
static void remove_database(const char *path) {
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    char name[4096];
    size_t i;
    for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; ++i) {
        if (snprintf(name, sizeof name, "%s%s", path, suffixes[i]) < (int)sizeof name) {
            remove(name);
        }
    }
}

/* Everything that needs the open collection; the caller closes the handles. */
static int use_collection(pvec_collection *coll) {
    static const int64_t ids[] = {1, 2, 3, 4};
    static const float vecs[4 * DIM] = {
        1.0f, 0.0f, 0.0f, 0.0f, /* 1: north */
        0.0f, 1.0f, 0.0f, 0.0f, /* 2: east */
        0.7f, 0.7f, 0.0f, 0.0f, /* 3: north-east */
        0.0f, 0.0f, 1.0f, 0.0f, /* 4: up */
    };
    static const char *const metas[] = {
        "{\"title\": \"north\"}",
        "{\"title\": \"east\"}",
        "{\"title\": \"north-east\", \"tags\": [\"diagonal\"]}",
        NULL, /* metadata is optional per item */
    };
    const float query[DIM] = {0.9f, 0.3f, 0.0f, 0.0f};
    int64_t found_ids[K];
    float scores[K];
    size_t n_found = 0;
    size_t i;
    char *errmsg = NULL;
    char *meta = NULL;
    int rc;

    rc = pvec_add_batch(coll, 4, ids, vecs, DIM, metas, &errmsg);
    if (failed(rc, "pvec_add_batch", errmsg)) {
        return 1;
    }

    rc = pvec_search(coll, query, DIM, K, NULL, found_ids, scores, &n_found, &errmsg);
    if (failed(rc, "pvec_search", errmsg)) {
        return 1;
    }
    printf("nearest %d of 4 by cosine distance:\n", K);
    for (i = 0; i < n_found; ++i) {
        printf("  %zu. id %lld  score %.4f\n", i + 1, (long long)found_ids[i], (double)scores[i]);
    }
    if (n_found == 0 || found_ids[0] != 1) {
        fprintf(stderr, "expected item 1 first\n");
        return 1;
    }

    rc = pvec_get(coll, 3, NULL, 0, &meta, &errmsg);
    if (failed(rc, "pvec_get", errmsg)) {
        return 1;
    }
    printf("metadata of item 3: %s\n", meta ? meta : "(none)");
    pvec_free(meta);
    return 0;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "pocketvec_example.db";
    pvec_db *db = NULL;
    pvec_collection *coll = NULL;
    pvec_collection_options opts = PVEC_COLLECTION_OPTIONS_INIT;
    char *errmsg = NULL;
    int status = 1;
    int rc;

    printf("pocketvec %s, kernel %s\n", pvec_version_string(), pvec_kernel_name());
    remove_database(path);

    rc = pvec_db_open(path, NULL, &db, &errmsg);
    if (failed(rc, "pvec_db_open", errmsg)) {
        return 1;
    }

    opts.dim = DIM;
    opts.metric = PVEC_METRIC_COSINE;
    rc = pvec_collection_create(db, "places", &opts, &coll, &errmsg);
    if (!failed(rc, "pvec_collection_create", errmsg)) {
        status = use_collection(coll);
    }

    pvec_collection_close(coll); /* NULL-safe */
    rc = pvec_db_close(db);
    if (rc != PVEC_OK) {
        fprintf(stderr, "pvec_db_close: %s\n", pvec_errstr(rc));
        status = 1;
    }
    if (status == 0) {
        printf("ok: %s\n", path);
    }
    return status;
}
