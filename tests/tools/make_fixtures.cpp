// Writes the small input files the tool tests import (fvecs, npy, jsonl, and broken ones) into
// the directory given as argv[1], and removes the test database left by an earlier run.
//
//   tool_make_fixtures DIR
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace {

constexpr int kFvecsRows = 100;
constexpr int kFvecsDim = 8;

// Distinct, deterministic values: row r, column c.
float value(int r, int c) {
    return static_cast<float>(std::sin(0.37 * r + 1.3 * c) + 0.01 * r);
}

void put_le32(std::ofstream &out, uint32_t v) {
    const unsigned char b[4] = {static_cast<unsigned char>(v), static_cast<unsigned char>(v >> 8),
                                static_cast<unsigned char>(v >> 16),
                                static_cast<unsigned char>(v >> 24)};
    out.write(reinterpret_cast<const char *>(b), 4);
}

void put_f32(std::ofstream &out, float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    put_le32(out, bits);
}

void put_f64(std::ofstream &out, double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    put_le32(out, static_cast<uint32_t>(bits));
    put_le32(out, static_cast<uint32_t>(bits >> 32));
}

std::ofstream create(const std::filesystem::path &path) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) {
        std::fprintf(stderr, "cannot write %s\n", path.string().c_str());
        std::exit(1);
    }
    return out;
}

void write_fvecs(const std::filesystem::path &path) {
    std::ofstream out = create(path);
    for (int r = 0; r < kFvecsRows; ++r) {
        put_le32(out, kFvecsDim);
        for (int c = 0; c < kFvecsDim; ++c) {
            put_f32(out, value(r, c));
        }
    }
}

// A .npy file of `rows` x `dim` with NumPy's header layout: magic, version, header length, a
// dict literal padded with spaces and ending in '\n' so that the data starts 64-byte aligned.
void write_npy(const std::filesystem::path &path, int major, const char *descr, int rows, int dim,
               const char *shape_override = nullptr) {
    std::ofstream out = create(path);
    const std::string shape = shape_override
                                  ? shape_override
                                  : "(" + std::to_string(rows) + ", " + std::to_string(dim) + ")";
    std::string dict =
        std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    const size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + dict.size() + 1) % 64 != 0) {
        dict += ' ';
    }
    dict += '\n';
    out.write("\x93NUMPY", 6);
    out.put(static_cast<char>(major));
    out.put(0);
    if (major == 1) {
        out.put(static_cast<char>(dict.size() & 0xff));
        out.put(static_cast<char>(dict.size() >> 8));
    } else {
        put_le32(out, static_cast<uint32_t>(dict.size()));
    }
    out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
    for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < dim; ++c) {
            if (std::strcmp(descr, "<f8") == 0) {
                put_f64(out, value(r, c));
            } else {
                put_f32(out, value(r, c));
            }
        }
    }
}

void write_text(const std::filesystem::path &path, const char *text) {
    std::ofstream out = create(path);
    out << text;
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: tool_make_fixtures DIR\n");
        return 2;
    }
    const std::filesystem::path dir(argv[1]);
    std::filesystem::create_directories(dir);
    for (const char *name : {"tool.db", "tool.db-journal", "tool.db-wal", "tool.db-shm"}) {
        std::error_code ec;
        std::filesystem::remove(dir / name, ec);
    }

    write_fvecs(dir / "small.fvecs");
    write_npy(dir / "small_f8.npy", 1, "<f8", 50, 6);
    write_npy(dir / "small_f4.npy", 2, "<f4", 30, 5);
    write_npy(dir / "bad_shape.npy", 1, "<f4", 12, 1, "(12,)");
    write_npy(dir / "bad_dtype.npy", 1, "<i4", 3, 4);
    // 16 rows present, (2^62 - 1) declared: 2^64 - 4 bytes, which wrapped past 2^64 once the
    // header was added to it.
    write_npy(dir / "huge_shape.npy", 1, "<f4", 16, 1, "(4611686018427387903, 1)");
    // ids 100..102 given, the record without one gets start-id + its record number (3), and
    // every key other than "embedding" and "id" becomes metadata.
    write_text(dir / "docs.jsonl",
               "{\"id\": 100, \"embedding\": [1, 0, 0, 0], \"title\": \"alpha\"}\n"
               "{\"id\": 101, \"embedding\": [0, 1, 0, 0], \"title\": \"beta\", \"n\": 2}\n"
               "\n"
               "{\"id\": 102, \"embedding\": [0.0, 0.0, 1.0, 0.0], \"title\": \"gamma\"}\n"
               "{\"embedding\": [0, 0, 0, 1]}\n");
    // Line 3 is broken JSON.
    write_text(dir / "bad.jsonl", "{\"embedding\": [1, 2, 3]}\n"
                                  "{\"embedding\": [4, 5, 6]}\n"
                                  "{\"embedding\": [7, 8, 9\n"
                                  "{\"embedding\": [1, 1, 1]}\n");
    write_text(dir / "bad_element.jsonl", "{\"embedding\": [1, 2, 3]}\n"
                                          "{\"embedding\": [4, \"five\", 6]}\n");
    return 0;
}
