// The chunk blob layout and the resident chunk's block addressing.
#include <gtest/gtest.h>

#include "store/arena.h"
#include "store/chunk_format.h"

namespace pocketvec::store {
namespace {

TEST(ChunkLayout, SectionsFollowEachOtherWithoutGaps) {
    ChunkLayout l{256, 1536};
    EXPECT_EQ(l.live_offset(), 0u);
    EXPECT_EQ(l.ids_offset(), 32u);
    EXPECT_EQ(l.norms_offset(), 32u + 2048u);
    EXPECT_EQ(l.codes_offset(), 32u + 2048u + 1024u);
    EXPECT_EQ(l.total_bytes(), 3104u + 256u * 1536u);
    EXPECT_EQ(l.code_offset(3), 3104u + 3u * 1536u);
    EXPECT_EQ(l.id_offset(255), 32u + 255u * 8u);
}

TEST(ResidentChunk, VectorsRoundTripThroughTheBlockLayout) {
    ResidentChunk c(7);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(c.codes()) % 64, 0u);
    const float a[7] = {1, 2, 3, 4, 5, 6, 7}, b[7] = {-1, -2, -3, -4, -5, -6, -7};
    c.put_vector(0, a);
    c.put_vector(255, b);
    float out[7];
    c.get_vector(255, out);
    EXPECT_TRUE(std::equal(out, out + 7, b));
    c.get_vector(0, out);
    EXPECT_TRUE(std::equal(out, out + 7, a));
    // Component g of slot s lives at g * 256 + s.
    EXPECT_EQ(c.codes()[2 * 256 + 255], -3.0f);
}

TEST(ResidentChunk, LiveBitsCountAndMatchTheDiskBytes) {
    ResidentChunk c(1);
    c.set_live(9, true);
    c.set_live(9, true);
    c.set_live(70, true);
    EXPECT_EQ(c.live_count, 2u);
    EXPECT_EQ(c.live_byte(9), 0x02);  // byte 1 of the bitmap holds slots 8..15
    EXPECT_EQ(c.live_byte(70), 0x40);
    c.set_live(9, false);
    EXPECT_EQ(c.live_count, 1u);
    EXPECT_FALSE(c.is_live(9));
    EXPECT_TRUE(c.is_live(70));
}

}  // namespace
}  // namespace pocketvec::store
