// libFuzzer target: DM3/DM4 tag trees, image layout, data conversion and
// metadata. Malformed input must end in a corespec exception, nothing else.
#include <cstddef>
#include <cstdint>

#include <corespec/io/dm.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const char* bytes = reinterpret_cast<const char*>(data);
    try {
        corespec::io::FileInfo info;
        (void)corespec::io::parse_dm_array<float>(bytes, size, "<fuzz>", &info);
    } catch (const corespec::error&) {
    }
    try {
        (void)corespec::io::parse_dm<double>(bytes, size);
    } catch (const corespec::error&) {
    }
    return 0;
}
