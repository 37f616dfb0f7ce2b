// Codecs: how a collection turns a float vector into its stored code and back, how the codec's
// parameters are fitted on a sample and (de)serialised, and how a float query is scored against
// row-major codes (one vector's code_bytes() contiguous, vectors one after another).
//
// Codes, per dimension, in dimension order; multi-byte codes little-endian:
//   f32    4 bytes   IEEE binary32, bit-exact.
//   f16    2 bytes   IEEE binary16, round to nearest even (RNE).
//   bf16   2 bytes   the top half of binary32, RNE.
//   e4m3   1 byte    OCP FP8 E4M3 (bias 7, no Inf, NaN = S.1111.111, max 448) of x / scale.
//   e5m2   1 byte    OCP FP8 E5M2 (bias 15, IEEE-like Inf/NaN, max 57344) of x / scale.
//   int8   1 byte    unsigned level c in 0..255, x ~ offset[i] + step[i] * c.
//   int4   4 bits    level c in 0..15, x ~ offset[i] + step[i] * c; dimension 2j in the low
//                    nibble of byte j, 2j+1 in the high nibble; an odd tail leaves the high nibble 0.
//   binary 1 bit     bit i (LSB first in byte i / 8) = x[i] > threshold[i];
//                    x ~ offset[i] + step[i] * bit. Unused tail bits are 0.
//   rabitq 1 bit     RaBitQ (Gao & Long, SIGMOD 2024) and extended RaBitQ (Gao et al., SIGMOD 2025)
//   rabitq2 2 bits   for 2 bits. The codec expects x already centred and rotated: the model gives
//                    it C (x - mean) with C a random orthogonal transform (model::fit: the PCA's
//                    rotation, or pca::fit_rotation's structured one). A code is
//                    whole bit planes, then one 4-byte group of two factors:
//                      P = 4 * ceil(dim / 32) bytes per plane, bit i of a plane LSB first in
//                      byte i / 8, unused tail bits 0;
//                      rabitq:  plane 0 = sign bits s_i = x[i] > 0; level xb_i = s_i - 1/2;
//                      rabitq2: plane 0 = high bits h_i, plane 1 = low bits l_i of the level
//                               c_i = 2 h_i + l_i in 0..3; xb_i = c_i - 3/2 (h_i is the sign,
//                               and |xb_i| = 3/2 for the coordinates with the largest |x[i]|,
//                               how many chosen per vector to maximise cos(xb, x));
//                      then f16 alpha / scale and f16 |x| / scale (little-endian, alpha first),
//                      alpha = |x|^2 / (xb . x) (0 for x = 0).
//                    code_bytes = planes * P + 4. The estimate of q . x is alpha * (xb . q),
//                    unbiased over the random rotation; decode gives (xb . x / |xb|^2) xb with
//                    xb . x = |x|^2 / alpha, the least-squares point on xb's line.
// Encoding never turns a finite input into Inf or NaN: every float codec saturates to its largest
// finite value (for f16/bf16 this departs from IEEE overflow-to-Inf, on purpose: an Inf in a code
// would poison every score it touches). NaN input stays NaN for float codecs and maps to level 0 /
// bit 0 for the integer and binary codecs; callers reject non-finite vectors before encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "kernels/kernels.h"

namespace pocketvec::codec {

// Values are stored in files; only ever appended.
enum class CodecId : uint32_t {
    f32 = 0, f16 = 1, bf16 = 2, e4m3 = 3, e5m2 = 4, int8 = 5, int4 = 6, binary = 7,
    rabitq = 8, rabitq2 = 9
};

constexpr uint32_t kCodecCount = 10;

// "f32", "f16", "bf16", "e4m3", "e5m2", "int8", "int4", "binary", "rabitq", "rabitq2"; false for
// anything else.
bool codec_from_name(std::string_view name, CodecId *out);
// The name above, or "?" for a value out of range.
const char *codec_name(CodecId id);
// False for a stored value that names no codec.
bool codec_from_code(uint32_t code, CodecId *out);

// Bits per dimension: 32, 16, 16, 8, 8, 8, 4, 1, 1, 2.
uint32_t codec_bits(CodecId id);
// Bytes of one vector's code: exactly ceil(dim * bits / 8); for rabitq / rabitq2 the bit planes
// padded to whole 4-byte groups plus the 4 bytes of factors: 4 * ceil(dim / 32) * bits + 4.
std::size_t code_bytes(CodecId id, std::size_t dim);
// True when the codec has parameters that train() fits from a sample (fp8, int8, int4, binary,
// rabitq, rabitq2).
bool codec_needs_training(CodecId id);
// rabitq or rabitq2: the codes estimate inner products of vectors the model centred and rotated.
bool is_rabitq(CodecId id);

// A codec's fitted parameters. Which fields are used depends on the codec; the others stay empty:
//   f32, f16, bf16: none.
//   e4m3, e5m2:     scale > 0, x ~ scale * fp8(code).
//   int8, int4:     offset, step (dim each), step >= 0.
//   binary:         threshold, offset, step (dim each): the bit is x > threshold and decodes to
//                   offset (bit 0) or offset + step (bit 1), the sample's mean on either side.
//   rabitq, rabitq2: scale > 0, a power of two: the factors are stored divided by it, so that
//                   f16 holds them whatever the data's magnitude.
struct CodecParams {
    CodecId id = CodecId::f32;
    uint32_t dim = 0;
    float scale = 1.0f;
    std::vector<float> offset;
    std::vector<float> step;
    std::vector<float> threshold;

    // Little-endian blob: "PVCD", u32 version (1; 2 for rabitq / rabitq2, so that a library
    // older than them says PVEC_FORMAT rather than "damaged"), u32 codec, u32 dim, f32 scale, then three
    // arrays (offset, step, threshold), each a u32 count (0 or dim) followed by that many f32.
    std::vector<uint8_t> serialize() const;
    // Parses a blob written by serialize(). PVEC_CORRUPT for a bad magic, truncated or trailing
    // bytes, an unknown codec, or parameters inconsistent with the codec (see validate());
    // PVEC_FORMAT for a newer version. `out` is written only on success.
    static Status deserialize(const uint8_t *data, std::size_t size, CodecParams *out);
};

// Checks that `p` is usable by encode/decode/scoring: dim >= 1, the arrays its codec needs have
// exactly dim finite entries (the others are empty), scale finite and > 0 (and exactly 1 for the
// codecs other than fp8 and rabitq; a power of two for rabitq), steps >= 0.
// PVEC_CORRUPT otherwise (parameters come from files).
Status validate(const CodecParams &p);

// Fits the parameters of `id` on `n` row-major sample vectors of `dim` finite floats.
//   fp8:       scale so that the sample's max |x| maps to half the format's max finite value (one
//              binade of headroom for unseen vectors; the relative precision is the same
//              everywhere in the normal range, so the headroom costs only the bottom binade).
//   int8/int4: per dimension, the clip range [lo, hi] with the least squared reconstruction
//              error on the sample among symmetric quantile ranges (100% ... 90% of the values);
//              offset = lo, step = (hi - lo) / (levels - 1).
//   binary:    per dimension, threshold = mean; offset/step from the means of the values on
//              either side (the squared-error-optimal 1-bit reconstruction for that threshold).
//   rabitq, rabitq2: scale = the smallest power of two >= the sample's largest |x| (1 for an
//              all-zero sample).
//   f32/f16/bf16: nothing to fit.
// PVEC_RANGE when n == 0 (for codecs that train) or dim == 0; PVEC_INVALID for a non-finite sample
// value or an unknown codec. `out` is written only on success.
Status train(CodecId id, const float *sample, std::size_t n, std::size_t dim, CodecParams *out);

// The untrained parameters of a codec that needs none (f32, f16, bf16); for the others, a
// neutral placeholder (scale 1, identity-like ranges) that validate() accepts, for tests.
CodecParams untrained_params(CodecId id, uint32_t dim);

// The two factors of a rabitq / rabitq2 code (its last 4 bytes), times p.scale: alpha and |x|.
struct RabitqFactors {
    float alpha;
    float norm;
};
RabitqFactors rabitq_factors(const CodecParams &p, const uint8_t *code);

// Encodes one vector of p.dim floats into code_bytes(p.id, p.dim) bytes. `p` must be valid.
void encode(const CodecParams &p, const float *x, uint8_t *code);
// Decodes one code into p.dim floats.
void decode(const CodecParams &p, const uint8_t *code, float *x);

// A float query prepared once for scoring many codes of one codec.
struct PreparedQuery {
    CodecId id = CodecId::f32;
    uint32_t dim = 0;
    float base = 0.0f;    // int8/int4: sum q[i] * offset[i]; binary: sum q[i] * offset[i]
    float scale = 1.0f;   // e4m3/e5m2: the collection scale, applied once per score
    std::vector<float> w;       // per-dim weights: q (float codecs), q * step (int8, binary)
    std::vector<float> w_lo;    // int4: q * step of even dims (low nibbles)
    std::vector<float> w_hi;    // int4: q * step of odd dims (high nibbles), 0 past dim
    std::vector<uint64_t> bits; // binary: the query's own bits (q[i] > threshold[i]), 0-padded
    std::vector<float> lut;     // e4m3/e5m2: the 256 code values, so decoding is one load
    std::vector<float> block_w; // dot_block: the weights of each 4-byte code group, zero-padded
    // dot_block, int8 and int4: the weights quantized to integers, w[i] ~ qscale * qint[j] with
    // |qint| <= min(kernels::kMaxQueryWeight (int4: kMaxInt4QueryWeight), the largest that keeps
    // the kernels' sums in int32)
    // (round to nearest), in the kernels' order (KernelTable::dot_u8_block / dot_u4_block) and
    // zero-padded to whole groups. The scan's inner product is then an exact integer sum; the
    // quantization costs at most qscale / 2 * sum_i c_i on a score.
    std::vector<int16_t> qint;
    float qscale = 0.0f;
    std::vector<uint32_t> bits32;  // dot_block, binary: the query's bits per 4-byte group
    // rabitq, rabitq2. dot_rows adds norm2_weight * |x|^2 (|x| the code's stored factor) to every
    // estimate: model::prepare_query sets -1/2 under cosine, which turns the estimate of q . x
    // into one of -|q - x|^2 / 2 up to a constant, so the query is centred like the data. For
    // dot_block the query is quantized to query_bits (rabitq_query_bits) unsigned levels u_i with
    // q_i ~ qscale * (u_i - (2^query_bits - 1) / 2) (round to nearest, so no coordinate is off by
    // more than qscale / 2), kept as bit planes: plane j, group g at bits32[j * plane_groups + g].
    float norm2_weight = 0.0f;
    uint32_t query_bits = 0;
};

// Bits of the quantized query of rabitq / rabitq2 block scans (PreparedQuery::bits32): 4 for
// rabitq, 6 for rabitq2, whose finer codes would otherwise lose to the query's rounding (glove,
// rabitq2+r4: recall@10 0.990 with 4 bits, 0.993 with 6, 0.994 with 8; every query bit is one
// more popcount pass per code plane).
uint32_t rabitq_query_bits(CodecId id);

// Prepares `q` (p.dim floats) for dot_rows().
PreparedQuery prepare_query(const CodecParams &p, const float *q);

// out[j] for the n row-major codes at `codes`:
//   every codec but binary: q . decode(code_j), up to float rounding;
//   binary: dim - 2 * hamming(query bits, code_j), a similarity for ranking only (higher is more
//   similar), whatever the metric; rescore the best candidates exactly;
//   rabitq, rabitq2: the estimate alpha_j * (xb_j . q) + norm2_weight * |x_j|^2 (see the code
//   format above), not q . decode(code_j).
// dot_rows is the fast version; dot_rows_scalar the reference (one element at a time, summed in
// double) it is tested against. Neither requires alignment.
void dot_rows(const PreparedQuery &pq, const uint8_t *codes, std::size_t n, float *out);
void dot_rows_scalar(const PreparedQuery &pq, const uint8_t *codes, std::size_t n, float *out);

// The scores for the 256 codes of one block in the block scan layout (kernels/block_layout.h:
// 4-byte groups, group g of slot v at byte (g * 256 + v) * 4, padding and free slots zero):
// out[v] for every v < 256, through the kernels of `table` (the active level by default):
//   float codecs: as dot_rows, up to float rounding;
//   int8, int4: base + qscale * (exact integer sum against the int8-quantized query), which
//     differs from dot_rows by at most qscale / 2 * sum_i c_i (the query's rounding);
//   binary: exactly dot_rows;
//   rabitq, rabitq2: the same estimate against the quantized query (exact integer popcounts,
//     equal at every level), which differs from dot_rows by at most
//     |alpha_j| * qscale / 2 * sum_i |xb_i| plus float rounding.
// `block` and `out` (256 floats) must be 64-byte aligned. `next`, when not null, is the block of
// the same codec the caller scores next: the kernels read its first rows ahead (never more).
void dot_block(const PreparedQuery &pq, const uint8_t *block, float *out);
void dot_block(const PreparedQuery &pq, const uint8_t *block, float *out,
               const kernels::KernelTable &table, const uint8_t *next = nullptr);

// What the kernels of dot_block write for one block before it turns them into its values, for a
// scan that selects on them (search/scan.cpp): dot_block(pq, block)[v] == sum_value(pq, sums, v)
// bit for bit. int32: the exact integer sums (int8, int4); hamming: Hamming distances (binary);
// float32: the kernels' float sums (f32, f16, bf16, e4m3, e5m2); none: rabitq and rabitq2, whose
// values also take per-slot factors (block_sums is not defined for them).
enum class SumKind : uint8_t { int32, hamming, float32, none };
SumKind sum_kind(CodecId id);

struct BlockSums {
    union {
        alignas(64) int32_t i[kernels::kBlockVectors];
        alignas(64) uint32_t u[kernels::kBlockVectors];
        alignas(64) float f[kernels::kBlockVectors];
    };
};
void block_sums(const PreparedQuery &pq, const uint8_t *block, BlockSums *out,
                const kernels::KernelTable &table, const uint8_t *next = nullptr);

// dot_block's value of one sum. Increasing in an int32 or float32 sum (qscale and scale are never
// negative), decreasing in a Hamming distance.
inline float int32_value(const PreparedQuery &pq, int32_t s) {
    return pq.base + pq.qscale * static_cast<float>(s);
}
inline float hamming_value(const PreparedQuery &pq, uint32_t h) {
    return static_cast<float>(pq.dim) - 2.0f * static_cast<float>(h);
}
inline float float32_value(const PreparedQuery &pq, float x) {
    return pq.id == CodecId::e4m3 || pq.id == CodecId::e5m2 ? x * pq.scale : x;
}
inline float sum_value(const PreparedQuery &pq, const BlockSums &sums, std::size_t v) {
    switch (sum_kind(pq.id)) {
    case SumKind::int32: return int32_value(pq, sums.i[v]);
    case SumKind::hamming: return hamming_value(pq, sums.u[v]);
    default: return float32_value(pq, sums.f[v]);
    }
}

// For int8 and int4 queries: bounds over every possible code c of the query's integer rounding,
// |dot_block(pq, c) - (base + w . c)| <= rounding (exact arithmetic), and of the magnitude of the
// integer part, |w . c| <= magnitude. 0 and 0 for the other codecs (their block weights are the
// float query itself).
struct QueryRounding {
    double rounding = 0;
    double magnitude = 0;
};
QueryRounding query_rounding(const PreparedQuery &pq);

// |decode(code)|^2, for L2 as |q|^2 - 2 q.x + |x|^2 and for cosine norms; computed once per vector
// at insert and kept as a per-vector correction. rabitq / rabitq2: the stored |x|^2 (the
// estimator's, not the smaller |decode(code)|^2).
float decoded_norm2(const CodecParams &p, const uint8_t *code);

}  // namespace pocketvec::codec
