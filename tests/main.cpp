// The doctest main shared by the corespec test executables.
//
// With --corespec-requires-shared, the run is reported as skipped (exit code
// 77, which ctest shows as "Skipped") when the shared data folder is absent.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstring>
#include <iostream>
#include <vector>

#include "support/shared_data.hpp"

int main(int argc, char** argv) {
    std::vector<char*> args;
    bool requires_shared = false;
    for (int i = 0; i < argc; ++i) {
        if (std::strcmp(argv[i], "--corespec-requires-shared") == 0) {
            requires_shared = true;
        } else {
            args.push_back(argv[i]);
        }
    }
    if (requires_shared && !corespec_test::has_shared()) {
        std::cout << "SKIPPED: shared data folder not found at '" << corespec_test::shared_dir_setting()
                  << "' (set CORESPEC_SHARED_DIR or the CMake cache entry CORESPEC_SHARED_DIR)\n";
        return 77;
    }
    if (!corespec_test::has_shared()) {
        std::cout << "note: shared data folder not found at '" << corespec_test::shared_dir_setting()
                  << "'; reference tests are skipped\n";
    }
    doctest::Context context(static_cast<int>(args.size()), args.data());
    return context.run();
}
