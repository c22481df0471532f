// corespec/core/version.hpp - the library version (CMake parses these lines).
#pragma once

#define CORESPEC_VERSION_MAJOR 0
#define CORESPEC_VERSION_MINOR 1
#define CORESPEC_VERSION_PATCH 0

namespace corespec {

/// The version as "major.minor.patch".
inline const char* version() noexcept { return "0.1.0"; }

}  // namespace corespec
