// libFuzzer target: NPY headers and data, conversion to a spectrum image.
#include <cstddef>
#include <cstdint>
#include <optional>

#include <corespec/io/npy.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        auto a = corespec::io::parse_npy<double>(data, size);
        (void)corespec::io::npy_to_spectrum_image<double>(std::move(a), "<fuzz>");
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    return 0;
}
