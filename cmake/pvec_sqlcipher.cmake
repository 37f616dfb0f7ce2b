# SQLite::SQLite3 as SQLCipher (encryption at rest, PVEC_SQLCIPHER=ON): the system's SQLCipher,
# found with pkg-config (Debian: libsqlcipher-dev), never downloaded. Every target that links
# SQLite::SQLite3 then compiles against <sqlcipher/sqlite3.h> with SQLITE_HAS_CODEC (which declares
# sqlite3_key_v2) and links libsqlcipher instead of libsqlite3; the two must never meet in one
# process, so find_package(SQLite3) is not called at all. Installed beside pocketvecConfig.cmake,
# which includes it so that a consumer links the same library.
find_package(PkgConfig REQUIRED)
pkg_check_modules(PVEC_SQLCIPHER_PC QUIET IMPORTED_TARGET sqlcipher)
if(NOT PVEC_SQLCIPHER_PC_FOUND)
    message(FATAL_ERROR "PVEC_SQLCIPHER=ON needs SQLCipher's development files, found with "
                        "pkg-config as 'sqlcipher' "
                        "(Debian/Ubuntu: apt-get install libsqlcipher-dev)")
endif()
if(NOT TARGET SQLite::SQLite3)
    add_library(SQLite::SQLite3 INTERFACE IMPORTED)
    set_target_properties(SQLite::SQLite3 PROPERTIES
        INTERFACE_LINK_LIBRARIES PkgConfig::PVEC_SQLCIPHER_PC
        INTERFACE_COMPILE_DEFINITIONS SQLITE_HAS_CODEC)
endif()
