// libFuzzer target: HDF5 file images read as HyperSpy .hspy, through HDF5's
// file-image API (H5Pset_file_image: the bytes never touch the disk), and the
// same bytes through io::parse_spectrum_image (detection by the signature).
// Built only with corespec::hdf5; the HDF5 library itself is not
// instrumented, so this checks corespec's handling of what HDF5 returns.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <hdf5.h>

#include <corespec/io/hspy.hpp>
#include <corespec/io/read.hpp>

// libhdf5 sizes some allocations from the metadata it reads (H5C_protect asked for
// 3.6e18 bytes on a corrupt file): such a malloc fails, libhdf5 returns an error
// and corespec throws parse_error, as without ASan; so let it fail (returning NULL)
// rather than abort. Memory actually used is still bounded by -rss_limit_mb.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }

// Every HDF5 identifier corespec opened must be closed again, whatever threw:
// a leaked handle is corespec's bug (and abort() here fails the run), so a
// leak LeakSanitizer still reports after this check is libhdf5's own.
static void require_no_open_hdf5_ids(const char* after) {
    const ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open != 0) {
        std::fprintf(stderr, "fuzz_hspy: %zd HDF5 identifier(s) left open after %s\n", open, after);
        std::abort();
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        (void)corespec::io::parse_hspy<float>(data, size, "<fuzz>");
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    require_no_open_hdf5_ids("parse_hspy");
    try {
        (void)corespec::io::parse_spectrum_image<double>(
            std::string_view(reinterpret_cast<const char*>(data), size), "<fuzz>");
    } catch (const corespec::error&) {
    }
    require_no_open_hdf5_ids("parse_spectrum_image");
    return 0;
}
