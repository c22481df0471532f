// Test support: where the shared data folder (../shared) is, and a test-case
// decorator for tests that need it.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

namespace corespec_test {

/// The configured location: $CORESPEC_SHARED_DIR, else the CMake cache entry.
inline std::string shared_dir_setting() {
    if (const char* env = std::getenv("CORESPEC_SHARED_DIR"); env && *env) return env;
    return CORESPEC_DEFAULT_SHARED_DIR;
}

/// True when the shared folder exists and holds data/ and reference/.
inline bool has_shared() {
    const std::filesystem::path dir(shared_dir_setting());
    return std::filesystem::is_directory(dir / "data") && std::filesystem::is_directory(dir / "reference");
}

/// A path inside the shared folder, e.g. shared_path("data/xas/larch/feo_rt1.xdi").
inline std::filesystem::path shared_path(const std::string& relative) {
    return std::filesystem::path(shared_dir_setting()) / relative;
}

/// A path inside the project source tree.
inline std::filesystem::path source_path(const std::string& relative) {
    return std::filesystem::path(CORESPEC_SOURCE_DIR) / relative;
}

/// The whole file as a string (throws std::runtime_error when unreadable).
inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace corespec_test

/// Declares a test case that needs ../shared: in the "reference" suite and
/// skipped (visibly, by doctest's count) when the folder is absent.
#define CORESPEC_REFERENCE_TEST(name) \
    TEST_CASE(name * doctest::test_suite("reference") * doctest::skip(!corespec_test::has_shared()))
