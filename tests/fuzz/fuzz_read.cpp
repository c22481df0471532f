// libFuzzer target: format detection and dispatch to every reader from memory.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <corespec/io/read.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    try {
        corespec::io::FileInfo info;
        (void)corespec::io::parse_spectrum_image<double>(bytes, "<fuzz>", &info);
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    try {
        (void)corespec::io::parse_spectrum<float>(bytes, "<fuzz>");
    } catch (const corespec::error&) {
    }
    return 0;
}
