// libFuzzer target: XDI parsing, mu derivation, spectrum conversion and writing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <corespec/io/xdi.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto x = corespec::io::parse_xdi(std::string_view(reinterpret_cast<const char*>(data), size));
        (void)x.missing_recommended();
        (void)corespec::io::format_xdi(x);
        (void)corespec::io::to_spectrum<double>(x);
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    return 0;
}
