// A shim SQLite VFS over the default one, registered as the default so that pocketvec's own
// sqlite3_open_v2 goes through it. It keeps, per file, the image that last reached the disk
// (the content at open, then at every successful xSync) and can
//  - "crash" at the K-th write or sync: that call and every later write, sync, truncate and
//    delete fail; restore() then puts back the durable image of every file (power loss: the OS
//    cache is gone, only synced bytes survive; a journal never synced does not exist);
//  - fail the N-th xWrite, xRead, xSync, xTruncate or xLock once with a chosen error code
//    (fault loops; SQLITE_IOERR becomes the operation's own extended code).
// Deleting a file is taken as durable at once (SQLite's commit point in DELETE journal mode).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <sqlite3.h>

namespace crashvfs {

enum class Op { Write, Read, Sync, Truncate, Lock };

struct State {
    // Crash: count writes+syncs while armed; the crash_at-th one crashes.
    bool crash_armed = false;
    uint64_t ops = 0;
    uint64_t crash_at = 0;
    bool crashed = false;
    // Faults: the fault_at-th call of fault_op fails with fault_rc (once).
    bool fault_armed = false;
    Op fault_op = Op::Write;
    int fault_rc = SQLITE_IOERR;
    uint64_t fault_count = 0;
    uint64_t fault_at = 0;
    bool fault_fired = false;
    // path -> durable image; absent key with present=false = the file does not survive.
    struct Image {
        bool present = false;
        std::string bytes;
    };
    std::map<std::string, Image> durable;
};

// Registers the VFS as the default (once). Returns false when it cannot.
bool install();
State &state();
// Resets counters and flags (the durable images are kept).
void disarm();
// Fault mode: the `at`-th call (1-based) of `op` from now fails once with `rc`.
void arm_fault(Op op, int rc, uint64_t at);
// Writes the durable image of every tracked file back to disk and forgets all images.
void restore();
// Forgets all images (a file copied into place outside SQLite starts afresh at its next open).
void forget();

} // namespace crashvfs
