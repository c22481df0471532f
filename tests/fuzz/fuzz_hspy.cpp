// libFuzzer target: HDF5 file images read as HyperSpy .hspy, through HDF5's
// file-image API (H5Pset_file_image: the bytes never touch the disk), and the
// same bytes through io::parse_spectrum_image (detection by the signature).
// Built only with corespec::hdf5; the HDF5 library itself is not
// instrumented, so this checks corespec's handling of what HDF5 returns.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <corespec/io/hspy.hpp>
#include <corespec/io/read.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        (void)corespec::io::parse_hspy<float>(data, size, "<fuzz>");
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    try {
        (void)corespec::io::parse_spectrum_image<double>(
            std::string_view(reinterpret_cast<const char*>(data), size), "<fuzz>");
    } catch (const corespec::error&) {
    }
    return 0;
}
