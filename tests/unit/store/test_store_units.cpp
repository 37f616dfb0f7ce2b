// The chunk blob layout, the resident chunk's block addressing and the blob handle.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
#include <vector>

#include "store/chunk_format.h"
#include "store/snapshot.h"
#include "store/sqlite_util.h"

namespace pocketvec::store {
namespace {

TEST(ChunkLayout, SectionsFollowEachOtherWithoutGaps) {
    ChunkLayout l{256, 1536};
    EXPECT_EQ(l.live_offset(), 0u);
    EXPECT_EQ(l.ids_offset(), 32u);
    EXPECT_EQ(l.norms_offset(), 32u + 2048u);
    EXPECT_EQ(l.sums_offset(), 32u + 2048u + 1024u);
    EXPECT_EQ(l.codes_offset(), 32u + 2048u + 2048u);
    EXPECT_EQ(l.total_bytes(), 4128u + 256u * 1536u);
    EXPECT_EQ(l.code_offset(3), 4128u + 3u * 1536u);
    EXPECT_EQ(l.sum_offset(255), 32u + 2048u + 1024u + 255u * 4u);
    EXPECT_EQ(l.id_offset(255), 32u + 255u * 8u);
}

TEST(ResidentChunk, F32CodesRoundTripThroughTheBlockLayout) {
    ResidentChunk c(7 * 4);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(c.f32_block()) % 64, 0u);
    const float a[7] = {1, 2, 3, 4, 5, 6, 7}, b[7] = {-1, -2, -3, -4, -5, -6, -7};
    c.write_code(0, reinterpret_cast<const uint8_t *>(a));
    c.write_code(255, reinterpret_cast<const uint8_t *>(b));
    float out[7];
    c.read_code(255, reinterpret_cast<uint8_t *>(out));
    EXPECT_TRUE(std::equal(out, out + 7, b));
    c.read_code(0, reinterpret_cast<uint8_t *>(out));
    EXPECT_TRUE(std::equal(out, out + 7, a));
    // Component g of slot s lives at g * 256 + s.
    EXPECT_EQ(c.f32_block()[2 * 256 + 255], -3.0f);
}

TEST(ResidentChunk, CompressedCodesUseTheBlockLayoutWithZeroPadding) {
    ResidentChunk c(5);
    const uint8_t code[5] = {9, 8, 7, 6, 5};
    c.write_code(3, code);
    // Group 0 of slot 3 at 3 * 4; group 1 (byte 4 and three zero pads) at (256 + 3) * 4.
    EXPECT_EQ(c.block()[3 * 4 + 2], 7);
    EXPECT_EQ(c.block()[(256 + 3) * 4], 5);
    EXPECT_EQ(c.block()[(256 + 3) * 4 + 1], 0);
    uint8_t out[5];
    c.read_code(3, out);
    EXPECT_TRUE(std::equal(out, out + 5, code));
}

TEST(ResidentChunk, LiveBitsCountAndMatchTheDiskBytes) {
    ResidentChunk c(4);
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

namespace pocketvec::store {
namespace {

// block_store_rows writes what block_store would, slot by slot, for any code size and count.
TEST(ResidentChunk, RowsStoredAtOnceEqualSlotBySlot) {
    for (std::size_t code_bytes : {1u, 5u, 16u, 63u, 64u, 65u, 1536u}) {
        for (std::size_t count : {1u, 15u, 16u, 17u, 200u, 256u}) {
            std::vector<uint8_t> rows(count * code_bytes);
            for (std::size_t i = 0; i < rows.size(); ++i) {
                rows[i] = static_cast<uint8_t>(i * 131 + code_bytes);
            }
            ResidentChunk one(code_bytes), all(code_bytes);
            for (std::size_t s = 0; s < count; ++s) {
                one.write_code(s, rows.data() + s * code_bytes);
            }
            all.write_codes(rows.data(), count);
            ASSERT_EQ(std::memcmp(one.block(), all.block(), one.bytes()), 0)
                << code_bytes << " bytes, " << count << " slots";
            // And the layout itself: each group at (g * kBlockVectors + slot) * kGroupBytes,
            // padding and the slots past count zero.
            std::vector<uint8_t> want(one.bytes(), 0);
            for (std::size_t s = 0; s < count; ++s) {
                for (std::size_t b = 0; b < code_bytes; ++b) {
                    const std::size_t g = b / kernels::kGroupBytes, in = b % kernels::kGroupBytes;
                    want[(g * kChunkSlots + s) * kernels::kGroupBytes + in] =
                        rows[s * code_bytes + b];
                }
            }
            ASSERT_EQ(std::memcmp(all.block(), want.data(), want.size()), 0)
                << code_bytes << " bytes, " << count << " slots";
        }
    }
}

// A blob handle left on its row (to keep SQLite's overflow page cache) that another statement
// expired is opened again: it reads the row's new bytes, and refuses a row that changed size.
TEST(Blob, AnExpiredHandleIsOpenedAgain) {
    sqlite3 *conn = nullptr;
    ASSERT_EQ(sqlite3_open(":memory:", &conn), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(conn,
                           "CREATE TABLE t(id INTEGER PRIMARY KEY, data BLOB);"
                           "INSERT INTO t VALUES(1, zeroblob(10000));",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    Blob b;
    ASSERT_TRUE(b.open(conn, "t", "data", 1, false).is_ok());
    uint8_t got[4] = {9, 9, 9, 9};
    ASSERT_TRUE(b.read(got, 4, 9000).is_ok());
    EXPECT_EQ(got[0], 0);
    ASSERT_EQ(sqlite3_exec(conn, "UPDATE t SET data = CAST(zeroblob(9000) || x'07070707' ||"
                                 " zeroblob(996) AS BLOB) WHERE id = 1",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    ASSERT_TRUE(b.open(conn, "t", "data", 1, false).is_ok());  // same row: the handle stays
    const Status st = b.read(got, 4, 9000);
    ASSERT_TRUE(st.is_ok()) << st.message();
    EXPECT_EQ(got[0], 7);
    ASSERT_EQ(sqlite3_exec(conn, "UPDATE t SET data = zeroblob(20) WHERE id = 1", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    EXPECT_EQ(b.read(got, 4, 0).code(), PVEC_ERROR);
    b.close();
    sqlite3_close(conn);
}

}  // namespace
}  // namespace pocketvec::store
