#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "corespec/nn/safetensors.hpp"

using namespace corespec;
using nn::DType;
using nn::SafeTensors;

namespace {

// A file image built by hand: header text as given, then the raw buffer.
std::vector<unsigned char> image(const std::string& header, std::size_t buffer_bytes, std::uint64_t declared_len = 0) {
    const std::uint64_t n = declared_len ? declared_len : header.size();
    // Built by index: GCC 12 warns falsely (-Warray-bounds) on vector::insert here.
    std::vector<unsigned char> out(8 + header.size() + buffer_bytes);
    for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(n >> (8 * i));
    for (std::size_t i = 0; i < header.size(); ++i) out[8 + i] = static_cast<unsigned char>(header[i]);
    for (std::size_t i = 0; i < buffer_bytes; ++i) out[8 + header.size() + i] = static_cast<unsigned char>(i);
    return out;
}

SafeTensors parse(const std::vector<unsigned char>& bytes) { return SafeTensors::parse(bytes.data(), bytes.size(), "test"); }

// The reason of the parse_error raised by parsing `bytes` ("" if none).
std::string reason_of(const std::vector<unsigned char>& bytes) {
    try {
        parse(bytes);
    } catch (const parse_error& e) {
        return e.reason() + " @ " + e.location();
    }
    return "";
}

}  // namespace

TEST_CASE("safetensors: round trip of float and double tensors with metadata") {
    SafeTensors st;
    const std::vector<float> w = {1.5f, -2.25f, 3.0e-8f, 4.0f, 5.0f, 6.0f};
    const std::vector<double> b = {0.1, -0.2, 1e300};
    st.add<float>("layer.weight", {2, 3}, w);
    st.add<double>("layer.bias", {3}, b);
    st.add<float>("empty", {0, 4}, std::vector<float>{});
    st.metadata["format"] = "corespec";
    const auto bytes = st.serialize();
    // Header padded so that the buffer starts 8-byte aligned.
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
    CHECK((8 + n) % 8 == 0);

    const SafeTensors back = parse(bytes);
    CHECK(back.size() == 3);
    CHECK(back.metadata.at("format") == "corespec");
    CHECK(back.at("layer.weight").dtype == DType::F32);
    CHECK(back.at("layer.weight").shape == std::vector<std::size_t>{2, 3});
    CHECK(back.at("layer.weight").to_vector<float>() == w);
    CHECK(back.at("layer.bias").to_vector<double>() == b);
    CHECK(back.at("empty").numel() == 0);
    CHECK(back.at("layer.weight").to_vector<double>()[2] == static_cast<double>(w[2]));
    CHECK_THROWS_AS(back.at("missing"), range_error);

    const auto path = std::filesystem::temp_directory_path() / "corespec_test_roundtrip.safetensors";
    st.write(path.string());
    const SafeTensors from_file = SafeTensors::read(path.string());
    CHECK(from_file.at("layer.bias").to_vector<double>() == b);
    std::filesystem::remove(path);
    CHECK_THROWS_AS(SafeTensors::read(path.string()), io_error);
}

TEST_CASE("safetensors: F16, BF16 and integer tensors convert on read") {
    // 1.0, -2.0, 65504 (max half), 2^-24 (smallest subnormal half), inf
    const std::uint16_t half[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00};
    const std::uint16_t bf[] = {0x3F80, 0xC040};  // 1.0, -3.0
    std::vector<unsigned char> buffer;
    for (std::uint16_t h : half) { buffer.push_back(h & 0xFF); buffer.push_back(h >> 8); }
    for (std::uint16_t h : bf) { buffer.push_back(h & 0xFF); buffer.push_back(h >> 8); }
    const std::int32_t i32 = -7;
    unsigned char tmp[4];
    std::memcpy(tmp, &i32, 4);
    buffer.insert(buffer.end(), tmp, tmp + 4);
    const std::string header =
        R"({"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},)"
        R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[10,14]},)"
        R"("i":{"dtype":"I32","shape":[],"data_offsets":[14,18]}})";
    auto bytes = image(header, buffer.size());
    std::memcpy(bytes.data() + 8 + header.size(), buffer.data(), buffer.size());
    const SafeTensors st = parse(bytes);
    const auto h = st.at("h").to_vector<double>();
    CHECK(h[0] == 1.0);
    CHECK(h[1] == -2.0);
    CHECK(h[2] == 65504.0);
    CHECK(h[3] == std::ldexp(1.0, -24));
    CHECK(std::isinf(h[4]));
    CHECK(st.at("b").to_vector<float>() == std::vector<float>{1.0f, -3.0f});
    CHECK(st.at("i").to_vector<double>() == std::vector<double>{-7.0});
    CHECK(st.names() == std::vector<std::string>{"h", "b", "i"});  // file order
}

TEST_CASE("safetensors: hostile files raise parse_error with offset and reason") {
    const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    CHECK(reason_of(image(ok, 8)).empty());

    // Too short for the length field.
    CHECK(reason_of({1, 2, 3}).find("shorter than") != std::string::npos);
    // Header length larger than the file, and larger than any sane header.
    CHECK(reason_of(image(ok, 8, 1000)).find("exceeds the") != std::string::npos);
    CHECK(reason_of(image(ok, 8, ~std::uint64_t(0))).find("exceeds the limit") != std::string::npos);
    // Not JSON, not an object, truncated JSON.
    CHECK(reason_of(image("[1,2]", 0)).find("JSON object") != std::string::npos);
    CHECK(reason_of(image("{\"a\":", 0)).find("not valid JSON") != std::string::npos);
    CHECK(reason_of(image(R"({"a":3})", 0)).find("not an object") != std::string::npos);
    // Unknown dtype, bad shape entries, bad offsets.
    CHECK(reason_of(image(R"({"a":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}})", 8)).find("unknown dtype") !=
          std::string::npos);
    CHECK(reason_of(image(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)).find("shape") !=
          std::string::npos);
    CHECK(reason_of(image(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8)).find("shape") !=
          std::string::npos);
    CHECK(reason_of(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8)).find("data_offsets") !=
          std::string::npos);
    CHECK(reason_of(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)).find("begin") !=
          std::string::npos);
    // Offsets beyond the buffer (truncated tensor).
    CHECK(reason_of(image(ok, 4)).find("beyond") != std::string::npos);
    // Shape and offsets disagree.
    CHECK(reason_of(image(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)).find("need 12 bytes") !=
          std::string::npos);
    // Shape product overflows size_t.
    CHECK(reason_of(image(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8))
              .find("overflows") != std::string::npos);
    // Overlapping tensors, holes, trailing bytes.
    CHECK(reason_of(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                          12))
              .find("overlaps") != std::string::npos);
    CHECK(reason_of(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                          12))
              .find("non-contiguous") != std::string::npos);
    CHECK(reason_of(image(ok, 12)).find("trailing") != std::string::npos);
    // Numbers nlohmann cannot represent (found by fuzzing).
    CHECK(reason_of(image(R"({"a":1e705})", 0)).find("not valid JSON") != std::string::npos);
    // Metadata must map strings to strings.
    CHECK(reason_of(image(R"({"__metadata__":{"k":1}})", 0)).find("__metadata__") != std::string::npos);

    // The location names the byte offset.
    try {
        parse(image(ok, 4));
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(e.source() == "test");
        CHECK(e.location() == "offset " + std::to_string(8 + ok.size()));
    }
}

TEST_CASE("safetensors: writer rejects inconsistent tensors") {
    SafeTensors st;
    CHECK_THROWS_AS(st.add<float>("a", {2, 2}, std::vector<float>{1, 2, 3}), shape_error);
    CHECK_THROWS_AS(st.add<float>("__metadata__", {1}, std::vector<float>{1}), value_error);
    nn::TensorData t;
    t.dtype = DType::F64;
    t.shape = {3};
    t.bytes.resize(16);
    CHECK_THROWS_AS(st.add("t", t), shape_error);
}
