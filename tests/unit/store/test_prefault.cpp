// prefault_for_write maps exactly the whole pages of a buffer, and only where the kernel can.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "common/prefault.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace pocketvec {
namespace {

#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
TEST(Prefault, MapsTheWholePagesOfTheBufferAndNoOthers) {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    constexpr std::size_t kPages = 64;
    void *map = mmap(nullptr, kPages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    ASSERT_NE(map, MAP_FAILED);
    auto *base = static_cast<uint8_t *>(map);
    if (madvise(base, page, MADV_POPULATE_WRITE) != 0) {
        munmap(map, kPages * page);
        GTEST_SKIP() << "this kernel has no MADV_POPULATE_WRITE (errno " << errno << ")";
    }
    munmap(map, kPages * page);
    map = mmap(nullptr, kPages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
               0);
    ASSERT_NE(map, MAP_FAILED);
    base = static_cast<uint8_t *>(map);
    std::vector<unsigned char> resident(kPages);
    ASSERT_EQ(mincore(base, kPages * page, resident.data()), 0);
    for (std::size_t i = 0; i < kPages; ++i) {
        ASSERT_EQ(resident[i] & 1, 0) << "page " << i << " before";
    }
    // From 100 bytes into page 0 to 100 bytes before the end: pages 1 .. kPages - 2 are whole.
    prefault_for_write(base + 100, kPages * page - 200);
    ASSERT_EQ(mincore(base, kPages * page, resident.data()), 0);
    EXPECT_EQ(resident[0] & 1, 0);
    EXPECT_EQ(resident[kPages - 1] & 1, 0);
    for (std::size_t i = 1; i + 1 < kPages; ++i) {
        EXPECT_EQ(resident[i] & 1, 1) << "page " << i;
    }
    for (std::size_t i = 0; i < kPages * page; ++i) {
        ASSERT_EQ(base[i], 0) << "byte " << i;  // mapped, still zero
    }
    // A buffer under 16 KiB is left alone.
    munmap(map, kPages * page);
    map = mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(map, MAP_FAILED);
    prefault_for_write(map, 16 * 1024 - 1);
    ASSERT_EQ(mincore(map, 4 * page, resident.data()), 0);
    EXPECT_EQ(resident[1] & 1, 0);
    munmap(map, 4 * page);
}
#endif

}  // namespace
}  // namespace pocketvec
