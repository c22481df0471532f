// libFuzzer target: JSON spectra (pymatgen x/y and tables of arrays).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <corespec/io/json_spectra.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        (void)corespec::io::parse_json_spectrum_image<double>(
            std::string_view(reinterpret_cast<const char*>(data), size));
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    return 0;
}
