// Writes tests/browser/sample_report.hpp's report into the folder given as
// the only argument (for check_report.py, which renders it in Chromium).
#include <cstdio>
#include <exception>

#include "browser/sample_report.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: write_sample_report DIR\n");
        return 2;
    }
    try {
        corespec_test::sample_report().write(argv[1]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "write_sample_report: %s\n", e.what());
        return 1;
    }
    return 0;
}
