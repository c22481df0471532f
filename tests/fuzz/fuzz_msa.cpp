// libFuzzer target: MSA parsing, and writing back what was read.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <corespec/io/msa.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto s = corespec::io::parse_msa<double>(std::string_view(reinterpret_cast<const char*>(data), size));
        // Whatever was read must write and read back.
        (void)corespec::io::parse_msa<double>(corespec::io::format_msa(s), "roundtrip");
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    return 0;
}
