// Test support for the nn loader tests: the committed fixtures under
// tests/data/nn and a substring check for error messages.
#pragma once

#include <string>

#include "support/shared_data.hpp"

namespace nn_test {

/// tests/data/nn/<name> in the source tree.
inline std::string fixture(const std::string& name) { return corespec_test::source_path("tests/data/nn/" + name).string(); }

/// True when `part` occurs in `text`.
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace nn_test
