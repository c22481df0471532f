#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "corespec/io/npy.hpp"
#include "support/io_reference.hpp"

using namespace corespec;

namespace {
/// An NPY file assembled by hand: version, header dict text, raw data bytes.
std::string npy(unsigned major, const std::string& dict, const std::string& data) {
    std::string header = dict;
    const std::size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + header.size() + 1) % 64 != 0) header.push_back(' ');
    header.push_back('\n');
    std::string out = "\x93NUMPY";
    out.push_back(static_cast<char>(major));
    out.push_back('\0');
    for (std::size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
    return out + header + data;
}
std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int v : b) s.push_back(static_cast<char>(v));
    return s;
}
}  // namespace

TEST_CASE("NPY: write then read, float and double, 1-D and 3-D") {
    const std::vector<double> d{1.5, -2.25, 3e300, 0.0, 5.0, 6.0};
    const auto text = io::format_npy<double>({2, 3}, d.data());
    CHECK(text.size() % 64 == (6 * 8) % 64);
    const auto a = io::parse_npy<double>(text.data(), text.size());
    CHECK(a.shape == std::vector<std::size_t>{2, 3});
    CHECK(a.values == d);
    CHECK(a.dtype == "float64");
    const std::vector<float> f{1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f};
    const auto path = std::filesystem::temp_directory_path() / "corespec_npy_roundtrip.npy";
    io::write_npy<float>(path, {2, 2, 2}, f.data());
    const auto b = io::read_npy<float>(path);
    CHECK(b.shape == std::vector<std::size_t>{2, 2, 2});
    CHECK(b.values == f);
    CHECK(b.dtype == "float32");
    std::filesystem::remove(path);
    // A spectrum image and back.
    io::FileInfo info;
    auto si = io::npy_to_spectrum_image<double>(a, "a.npy", std::nullopt, &info);
    CHECK(si.navigation_shape() == std::vector<std::size_t>{2});
    CHECK(si.channel_count() == 3);
    CHECK(si.pixel(1).values[2] == 6.0);
    REQUIRE(info.axes.size() == 2);
    CHECK(info.axes[0].navigate);
    CHECK_FALSE(info.axes[1].navigate);
    io::write_npy(path, si);
    CHECK(io::read_npy<double>(path).values == d);
    std::filesystem::remove(path);
    // Scalars and 1-element energy dimensions are not spectra.
    const auto zero_d = io::format_npy<double>({}, d.data());
    CHECK_THROWS_AS(io::npy_to_spectrum_image<double>(io::parse_npy<double>(zero_d.data(), zero_d.size()), "z"),
                    parse_error);
}

TEST_CASE("NPY: dtypes, byte orders, versions and Fortran order") {
    // big-endian int16 (-2, 258), version 2
    auto s = npy(2, "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }", bytes({0xff, 0xfe, 0x01, 0x02}));
    auto a = io::parse_npy<double>(s.data(), s.size());
    CHECK(a.values == std::vector<double>{-2.0, 258.0});
    CHECK(a.dtype == "int16");
    // little-endian uint32, version 3 with double quotes
    s = npy(3, "{\"descr\": \"<u4\", \"fortran_order\": False, \"shape\": (1,)}", bytes({0xff, 0xff, 0xff, 0xff}));
    CHECK(io::parse_npy<double>(s.data(), s.size()).values[0] == 4294967295.0);
    // int8, bool, uint8, int64, big-endian float32
    s = npy(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", bytes({0x80, 0x7f}));
    CHECK(io::parse_npy<double>(s.data(), s.size()).values == std::vector<double>{-128.0, 127.0});
    s = npy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", bytes({0, 1, 2}));
    CHECK(io::parse_npy<double>(s.data(), s.size()).values == std::vector<double>{0.0, 1.0, 1.0});
    s = npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", bytes({0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
    CHECK(io::parse_npy<double>(s.data(), s.size()).values[0] == -2.0);
    s = npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", bytes({0x3f, 0xc0, 0x00, 0x00}));
    CHECK(io::parse_npy<float>(s.data(), s.size()).values[0] == 1.5f);
    // Fortran order 2 x 3: file holds columns first.
    s = npy(1, "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }", bytes({1, 4, 2, 5, 3, 6}));
    a = io::parse_npy<double>(s.data(), s.size());
    CHECK(a.shape == std::vector<std::size_t>{2, 3});
    CHECK(a.values == std::vector<double>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("NPY: hostile headers give parse_error, never a huge allocation") {
    const auto bad = [](const std::string& s) {
        CHECK_THROWS_AS(io::parse_npy<double>(s.data(), s.size(), "bad.npy"), parse_error);
    };
    bad("");
    bad("\x93NUMPX\x01\x00\x10\x00");
    bad(std::string("\x93NUMPY\x07\x00\x10\x00", 10));                                  // version 7
    bad(std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12) + "{'descr'");            // 4 GiB header length
    bad(npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 1000000000000), }", ""));
    bad(npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }", ""));
    bad(npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", std::string(31, '\0')));  // truncated
    bad(npy(1, "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", std::string(16, '\0')));
    bad(npy(1, "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')));
    bad(npy(1, "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,), }", std::string(8, '\0')));
    bad(npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", std::string(8, '\0')));
    bad(npy(1, "{'descr': '<f8', 'fortran_order': False}", std::string(8, '\0')));
    bad(npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,", std::string(8, '\0')));
    try {
        const auto s = npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", std::string(8, '\0'));
        io::parse_npy<double>(s.data(), s.size(), "short.npy");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(e.source() == "short.npy");
        CHECK(e.location().rfind("offset ", 0) == 0);
    }
}

CORESPEC_REFERENCE_TEST("NPY: HyperSpy's saved arrays read with the recorded shapes and sums") {
    const auto& fixtures = corespec_test::reference_json("eels_read.json").at("fixtures");
    int checked = 0;
    for (auto it = fixtures.begin(); it != fixtures.end(); ++it) {
        const auto& ref = it.value();
        if (!ref.contains("data_array") || !ref.at("sum_float64").is_number()) continue;  // complex / RGBA sums are dicts
        CAPTURE(it.key());
        const auto a = io::read_npy<double>(corespec_test::shared_path("reference/" + ref.at("data_array").get<std::string>()));
        CHECK(a.shape == ref.at("array_shape").get<std::vector<std::size_t>>());
        const auto number = [](const nlohmann::json& j) { return j.is_boolean() ? double(j.get<bool>()) : j.get<double>(); };
        CHECK(a.values.front() == number(ref.at("first")));
        CHECK(a.values.back() == number(ref.at("last")));
        CHECK(corespec_test::exact_sum(a.values.begin(), a.values.end()) ==
              doctest::Approx(ref.at("sum_fsum").get<double>()).epsilon(1e-15));
        ++checked;
    }
    CHECK(checked >= 30);
}
