// libFuzzer target: column text parsing and conversion to a spectrum.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <corespec/io/columns.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto table = corespec::io::parse_columns(std::string_view(reinterpret_cast<const char*>(data), size));
        if (table.columns.size() >= 2) {
            (void)corespec::io::to_spectrum<double>(table, 0, 1);
            (void)corespec::io::to_spectrum<double>(table, corespec::io::detect_flavor(table));
        }
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    return 0;
}
