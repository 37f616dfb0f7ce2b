// The scalar level: plain loops, the reference every SIMD level is tested against. Each score is
// accumulated in float, in index order (component 0 first). Compiled at baseline flags; always
// present.
#include "kernels/kernels.h"

#include <cstddef>

namespace pocketvec::kernels {

const KernelTable *kernel_table_scalar();

namespace {

float dot_f32_scalar(const float *a, const float *b, std::size_t n) {
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
        s += a[i] * b[i];
    }
    return s;
}

float l2sq_f32_scalar(const float *a, const float *b, std::size_t n) {
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
        const float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

// Group-major like the layout, so the block is read in order; each out[v] still accumulates its
// own components in index order.
void dot_f32_block_scalar(const float *q, const float *block, std::size_t dim, float *out) {
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        out[v] = 0.0f;
    }
    for (std::size_t g = 0; g < dim; ++g) {
        const float qg = q[g];
        const float *row = block + g * kBlockVectors;
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            out[v] += qg * row[v];
        }
    }
}

void l2sq_f32_block_scalar(const float *q, const float *block, std::size_t dim, float *out) {
    for (std::size_t v = 0; v < kBlockVectors; ++v) {
        out[v] = 0.0f;
    }
    for (std::size_t g = 0; g < dim; ++g) {
        const float qg = q[g];
        const float *row = block + g * kBlockVectors;
        for (std::size_t v = 0; v < kBlockVectors; ++v) {
            const float d = row[v] - qg;
            out[v] += d * d;
        }
    }
}

constexpr KernelTable kTable{Level::scalar,         "scalar",
                             &dot_f32_scalar,       &l2sq_f32_scalar,
                             &dot_f32_block_scalar, &l2sq_f32_block_scalar};

}  // namespace

const KernelTable *kernel_table_scalar() { return &kTable; }

}  // namespace pocketvec::kernels
