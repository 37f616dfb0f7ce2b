#include "crash_vfs.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace crashvfs {
namespace {

State g_state;
sqlite3_vfs *g_real = nullptr;
sqlite3_vfs g_vfs;

struct File {
    sqlite3_file base;
    sqlite3_file *real;
    std::string path;
};

sqlite3_file *real_of(sqlite3_file *f) { return reinterpret_cast<File *>(f)->real; }

bool read_disk(const std::string &path, std::string *out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return false;
    }
    out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

// True when this write or sync is the crash point (or after it).
bool crash_now() {
    State &s = g_state;
    if (s.crashed) {
        return true;
    }
    if (s.crash_armed && ++s.ops == s.crash_at) {
        s.crashed = true;
        return true;
    }
    return false;
}

bool fault_now(Op op) {
    State &s = g_state;
    if (!s.fault_armed || s.fault_fired || s.fault_op != op) {
        return false;
    }
    if (++s.fault_count == s.fault_at) {
        s.fault_fired = true;
        return true;
    }
    return false;
}

int x_close(sqlite3_file *f) {
    File *file = reinterpret_cast<File *>(f);
    int rc = SQLITE_OK;
    if (file->real->pMethods != nullptr) {
        rc = file->real->pMethods->xClose(file->real);
    }
    sqlite3_free(file->real);
    file->path.~basic_string();
    return rc;
}
int x_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
    if (fault_now(Op::Read)) {
        return g_state.fault_rc == SQLITE_IOERR ? SQLITE_IOERR_READ : g_state.fault_rc;
    }
    return real_of(f)->pMethods->xRead(real_of(f), buf, n, off);
}
int x_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
    if (crash_now()) {
        return SQLITE_IOERR_WRITE;
    }
    if (fault_now(Op::Write)) {
        return g_state.fault_rc == SQLITE_IOERR ? SQLITE_IOERR_WRITE : g_state.fault_rc;
    }
    return real_of(f)->pMethods->xWrite(real_of(f), buf, n, off);
}
int x_truncate(sqlite3_file *f, sqlite3_int64 size) {
    if (g_state.crashed) {
        return SQLITE_IOERR_TRUNCATE;
    }
    if (fault_now(Op::Truncate)) {
        return g_state.fault_rc == SQLITE_IOERR ? SQLITE_IOERR_TRUNCATE : g_state.fault_rc;
    }
    return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
int x_sync(sqlite3_file *f, int flags) {
    if (crash_now()) {
        return SQLITE_IOERR_FSYNC;
    }
    if (fault_now(Op::Sync)) {
        return g_state.fault_rc == SQLITE_IOERR ? SQLITE_IOERR_FSYNC : g_state.fault_rc;
    }
    int rc = real_of(f)->pMethods->xSync(real_of(f), flags);
    if (rc == SQLITE_OK) {
        File *file = reinterpret_cast<File *>(f);
        State::Image &img = g_state.durable[file->path];
        img.present = read_disk(file->path, &img.bytes);
    }
    return rc;
}
int x_file_size(sqlite3_file *f, sqlite3_int64 *size) {
    return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
int x_lock(sqlite3_file *f, int l) {
    if (fault_now(Op::Lock)) {
        return g_state.fault_rc == SQLITE_IOERR ? SQLITE_IOERR_LOCK : g_state.fault_rc;
    }
    return real_of(f)->pMethods->xLock(real_of(f), l);
}
int x_unlock(sqlite3_file *f, int l) { return real_of(f)->pMethods->xUnlock(real_of(f), l); }
int x_check_reserved(sqlite3_file *f, int *out) {
    return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
int x_file_control(sqlite3_file *f, int op, void *arg) {
    return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int x_sector_size(sqlite3_file *f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int x_device_chars(sqlite3_file *f) {
    return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

// Version 1 methods only: no shared memory, so WAL is not available through this VFS (pocketvec
// uses the default rollback journal).
const sqlite3_io_methods g_methods = {
    1,           x_close,       x_read,        x_write,          x_truncate,       x_sync,
    x_file_size, x_lock,        x_unlock,      x_check_reserved, x_file_control,   x_sector_size,
    x_device_chars, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};

// `const char *`: sqlite3_filename, its typedef since SQLite 3.40, is missing from older headers.
int v_open(sqlite3_vfs *, const char *name, sqlite3_file *f, int flags, int *out_flags) {
    File *file = reinterpret_cast<File *>(f);
    file->base.pMethods = nullptr;
    file->real = static_cast<sqlite3_file *>(sqlite3_malloc(g_real->szOsFile));
    if (file->real == nullptr) {
        return SQLITE_NOMEM;
    }
    std::memset(file->real, 0, static_cast<size_t>(g_real->szOsFile));
    new (&file->path) std::string(name != nullptr ? name : "");
    if (name != nullptr && g_state.durable.find(file->path) == g_state.durable.end()) {
        State::Image &img = g_state.durable[file->path];
        img.present = read_disk(file->path, &img.bytes);
    }
    int rc = g_real->xOpen(g_real, name, file->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        sqlite3_free(file->real);
        file->path.~basic_string();
        return rc;
    }
    file->base.pMethods = &g_methods;
    return SQLITE_OK;
}
int v_delete(sqlite3_vfs *, const char *name, int sync_dir) {
    if (g_state.crashed) {
        return SQLITE_IOERR_DELETE;
    }
    int rc = g_real->xDelete(g_real, name, sync_dir);
    if (rc == SQLITE_OK) {
        State::Image &img = g_state.durable[name];
        img.present = false;
        img.bytes.clear();
    }
    return rc;
}
int v_access(sqlite3_vfs *, const char *name, int flags, int *out) {
    return g_real->xAccess(g_real, name, flags, out);
}
int v_full_pathname(sqlite3_vfs *, const char *name, int n, char *out) {
    return g_real->xFullPathname(g_real, name, n, out);
}
void *v_dlopen(sqlite3_vfs *, const char *name) { return g_real->xDlOpen(g_real, name); }
void v_dlerror(sqlite3_vfs *, int n, char *msg) { g_real->xDlError(g_real, n, msg); }
void (*v_dlsym(sqlite3_vfs *, void *h, const char *sym))(void) {
    return g_real->xDlSym(g_real, h, sym);
}
void v_dlclose(sqlite3_vfs *, void *h) { g_real->xDlClose(g_real, h); }
int v_randomness(sqlite3_vfs *, int n, char *out) { return g_real->xRandomness(g_real, n, out); }
int v_sleep(sqlite3_vfs *, int us) { return g_real->xSleep(g_real, us); }
int v_current_time(sqlite3_vfs *, double *t) { return g_real->xCurrentTime(g_real, t); }
int v_last_error(sqlite3_vfs *, int n, char *msg) {
    return g_real->xGetLastError != nullptr ? g_real->xGetLastError(g_real, n, msg) : 0;
}
int v_current_time_int64(sqlite3_vfs *, sqlite3_int64 *t) {
    return g_real->xCurrentTimeInt64(g_real, t);
}

} // namespace

State &state() { return g_state; }

bool install() {
    if (g_real != nullptr) {
        return true;
    }
    if (sqlite3_initialize() != SQLITE_OK) {
        return false;
    }
    g_real = sqlite3_vfs_find(nullptr);
    if (g_real == nullptr || g_real->iVersion < 2) {
        g_real = nullptr;
        return false;
    }
    std::memset(&g_vfs, 0, sizeof g_vfs);
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(File));
    g_vfs.mxPathname = g_real->mxPathname;
    g_vfs.zName = "pvec_crash";
    g_vfs.xOpen = v_open;
    g_vfs.xDelete = v_delete;
    g_vfs.xAccess = v_access;
    g_vfs.xFullPathname = v_full_pathname;
    g_vfs.xDlOpen = v_dlopen;
    g_vfs.xDlError = v_dlerror;
    g_vfs.xDlSym = v_dlsym;
    g_vfs.xDlClose = v_dlclose;
    g_vfs.xRandomness = v_randomness;
    g_vfs.xSleep = v_sleep;
    g_vfs.xCurrentTime = v_current_time;
    g_vfs.xGetLastError = v_last_error;
    g_vfs.xCurrentTimeInt64 = v_current_time_int64;
    return sqlite3_vfs_register(&g_vfs, 1) == SQLITE_OK;
}

void arm_fault(Op op, int rc, uint64_t at) {
    g_state.fault_op = op;
    g_state.fault_rc = rc;
    g_state.fault_at = at;
    g_state.fault_count = 0;
    g_state.fault_fired = false;
    g_state.fault_armed = true;
}

void disarm() {
    g_state.crash_armed = false;
    g_state.ops = 0;
    g_state.crash_at = 0;
    g_state.crashed = false;
    g_state.fault_armed = false;
    g_state.fault_count = 0;
    g_state.fault_at = 0;
    g_state.fault_fired = false;
}

void restore() {
    for (const auto &kv : g_state.durable) {
        if (!kv.second.present) {
            std::remove(kv.first.c_str());
            continue;
        }
        std::ofstream out(kv.first, std::ios::binary | std::ios::trunc);
        out.write(kv.second.bytes.data(), static_cast<std::streamsize>(kv.second.bytes.size()));
    }
    g_state.durable.clear();
}

void forget() { g_state.durable.clear(); }

} // namespace crashvfs
