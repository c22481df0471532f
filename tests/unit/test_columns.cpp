#include <doctest/doctest.h>

#include "corespec/io/columns.hpp"

using namespace corespec;

TEST_CASE("column text: labels from the header, data by label or index") {
    const auto t = io::parse_columns("# some title\n#  energy  mu  i0\n# ----\n 1.0 2.0 3.0\n2.0 4.0 6.0\n\n3 6 9\n");
    CHECK(t.labels == std::vector<std::string>{"energy", "mu", "i0"});
    CHECK(t.rows() == 3);
    CHECK(t.column("MU")[2] == 6.0);
    CHECK(t.column(2)[1] == 6.0);
    CHECK_THROWS_AS(t.column("missing"), range_error);
    CHECK_THROWS_AS(t.column(3), range_error);
    const auto s = io::to_spectrum<double>(t, "energy", "mu");
    CHECK(s.size() == 3);
    CHECK(s.energy(2) == 3.0);
}

TEST_CASE("column text: Fortran exponents, unlabelled columns") {
    const auto t = io::parse_columns("1.0D+00 2.5d-1\n2.0E+00 +3.0\n");
    CHECK(t.labels == std::vector<std::string>{"col1", "col2"});
    CHECK(t.column(1)[0] == doctest::Approx(0.25));
    CHECK(t.column(1)[1] == doctest::Approx(3.0));
}

TEST_CASE("column text: malformed input raises parse_error with the line") {
    CHECK_THROWS_AS(io::parse_columns(""), parse_error);
    CHECK_THROWS_AS(io::parse_columns("# only a header\n"), parse_error);
    CHECK_THROWS_AS(io::parse_columns("1 2\n3\n"), parse_error);
    try {
        io::parse_columns("1 2\n3 4\n5 x\n", "f.dat");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(e.source() == "f.dat");
        CHECK(e.location() == "line 3");
    }
    // Non-increasing energies or NaN values cannot become a spectrum.
    CHECK_THROWS_AS(io::to_spectrum<double>(io::parse_columns("1 2\n1 3\n"), 0, 1), parse_error);
    CHECK_THROWS_AS(io::to_spectrum<double>(io::parse_columns("1 2\n2 nan\n"), 0, 1), parse_error);
}
