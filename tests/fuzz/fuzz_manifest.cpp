// libFuzzer target: manifest parsing (CSV and JSON) and the table lookups.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <corespec/fusion/manifest.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto t = corespec::fusion::parse_manifest(std::string_view(reinterpret_cast<const char*>(data), size));
        for (const auto& row : t.rows)
            if (row.cells.size() != t.columns.size()) __builtin_trap();  // every row is as wide as the header
        if (!t.columns.empty()) (void)t.column(t.columns.back());
        (void)t.column("sample_id");
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    return 0;
}
