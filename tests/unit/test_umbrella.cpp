// The umbrella header compiles on its own and exposes the version.
#include <corespec/corespec.hpp>

#include <doctest/doctest.h>

#include <string>

TEST_CASE("umbrella header and version") {
    const std::string v = corespec::version();
    CHECK(v == std::to_string(CORESPEC_VERSION_MAJOR) + "." + std::to_string(CORESPEC_VERSION_MINOR) + "." +
                   std::to_string(CORESPEC_VERSION_PATCH));
}
