// libFuzzer target: Athena project files (gzip or plain Data::Dumper text).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <corespec/io/athena.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    corespec::io::AthenaOptions options;
    options.max_text_bytes = std::size_t(64) << 20;  // keep the fuzzer's memory bounded
    try {
        const auto p = corespec::io::parse_athena(std::string_view(reinterpret_cast<const char*>(data), size),
                                                  "<fuzz>", options);
        for (const auto& g : p.groups)
            if (g.arrays.count("x") && g.arrays.count("y")) (void)corespec::io::to_spectrum<double>(g);
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    return 0;
}
