// Asking the OS for the pages of a buffer about to be written whole, in one call.
#pragma once

#include <cstddef>

namespace pocketvec {

// Maps the whole pages of [p, p + n) writable now (Linux 5.14+: MADV_POPULATE_WRITE), instead of
// one page fault per page as they are first written. Only for memory the caller fills at once
// anyway (it adds no resident bytes a fill would not). Does nothing elsewhere, on older kernels,
// or for buffers under 16 KiB; never fails.
void prefault_for_write(void *p, std::size_t n);

}  // namespace pocketvec
