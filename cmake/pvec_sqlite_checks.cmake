# What the SQLite inside SQLCipher can do, checked once at configure time (PVEC_SQLCIPHER=ON).
# Debian 12's SQLCipher 3.4.1 is SQLite 3.15.2 without JSON1: the library copes (its own metadata
# check, sqlite_master, prepare_v2), the pocketvec tool does not (it parses JSON input with JSON1's
# json_each), so the tool is refused here rather than failing at run time.
include(CheckCSourceRuns)
include(CheckSymbolExists)
set(CMAKE_REQUIRED_INCLUDES ${PVEC_SQLCIPHER_PC_INCLUDE_DIRS})
set(CMAKE_REQUIRED_LIBRARIES ${PVEC_SQLCIPHER_PC_LINK_LIBRARIES})
set(CMAKE_REQUIRED_DEFINITIONS -DSQLITE_HAS_CODEC)
set(CMAKE_REQUIRED_QUIET ON)
check_symbol_exists(sqlite3_key_v2 sqlite3.h PVEC_SQLCIPHER_HAS_KEY_V2)
if(NOT PVEC_SQLCIPHER_HAS_KEY_V2)
    message(FATAL_ERROR "PVEC_SQLCIPHER=ON: the sqlite3.h/libsqlite found through pkg-config "
                        "'sqlcipher' (${PVEC_SQLCIPHER_PC_INCLUDE_DIRS}) has no sqlite3_key_v2; "
                        "it is not SQLCipher")
endif()
check_c_source_runs([=[
#include <sqlite3.h>
int main(void) {
    sqlite3 *db = 0;
    int ok = sqlite3_open(":memory:", &db) == SQLITE_OK &&
             sqlite3_exec(db, "SELECT json_valid('{}')", 0, 0, 0) == SQLITE_OK;
    sqlite3_close(db);
    return ok ? 0 : 1;
}]=] PVEC_SQLCIPHER_HAS_JSON1)
unset(CMAKE_REQUIRED_INCLUDES)
unset(CMAKE_REQUIRED_LIBRARIES)
unset(CMAKE_REQUIRED_DEFINITIONS)
unset(CMAKE_REQUIRED_QUIET)
if(PVEC_SQLCIPHER_HAS_JSON1)
    message(STATUS "SQLCipher ${PVEC_SQLCIPHER_PC_VERSION} (pkg-config sqlcipher), with JSON1")
else()
    message(STATUS "SQLCipher ${PVEC_SQLCIPHER_PC_VERSION} (pkg-config sqlcipher), without JSON1: "
                   "pocketvec checks metadata JSON itself")
endif()
if(PVEC_BUILD_TOOLS AND NOT PVEC_SQLCIPHER_HAS_JSON1)
    message(FATAL_ERROR "PVEC_SQLCIPHER=ON with PVEC_BUILD_TOOLS=ON: this SQLCipher's SQLite has "
                        "no JSON1 (Debian 12's SQLCipher 3.4.1 is SQLite 3.15.2), and the "
                        "pocketvec tool parses its JSON input with json_each(). Configure "
                        "with -DPVEC_BUILD_TOOLS=OFF (the library itself works without JSON1).")
endif()
