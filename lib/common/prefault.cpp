#include "common/prefault.h"

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace pocketvec {

void prefault_for_write(void *p, std::size_t n) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    if (n < 16 * 1024) {
        return;
    }
    static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    if (page == 0 || (page & (page - 1)) != 0) {
        return;
    }
    const auto begin = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
    const auto end = (reinterpret_cast<uintptr_t>(p) + n) & ~(page - 1);
    if (end > begin) {
        // EINVAL on a kernel without it: the pages then fault in as they are written.
        (void)madvise(reinterpret_cast<void *>(begin), end - begin, MADV_POPULATE_WRITE);
    }
#else
    (void)p;
    (void)n;
#endif
}

}  // namespace pocketvec
