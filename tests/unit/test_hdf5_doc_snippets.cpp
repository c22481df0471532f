// The C++ blocks of docs/formats.md, verbatim, with the variables they
// assume declared around them. corespec_hdf5_tests compiles this file (the
// blocks are fragments, so they are compiled, not run); the ctest
// docs.snippets.formats (tests/CMakeLists.txt, cmake/check_doc_snippets.cmake)
// fails when a block and this file differ.
#include <doctest/doctest.h>

#if defined(CORESPEC_HAVE_HDF5)

#include <cstddef>
#include <string>

#include <corespec/io/read.hpp>
#include <corespec/io/dm.hpp>
#include <corespec/io/hspy.hpp>
#include <corespec/io/emd.hpp>
#include <corespec/io/nexus.hpp>

namespace doc_snippets {

// docs/formats.md, "One entry point"
inline void formats_read(const std::string& bytes) {
corespec::io::FileInfo info;
auto s  = corespec::io::read_spectrum("coreloss.msa", &info);            // one spectrum
auto si = corespec::io::read_spectrum_image("si.dm4", &info);            // navigation x energy
auto f  = corespec::io::detect_format(bytes, "name.ext");                // Format::msa, ...
    (void)s;
    (void)si;
    (void)f;
}

// docs/formats.md, "DM3 / DM4"
inline void formats_dm() {
corespec::io::FileInfo info;
auto si = corespec::io::read_dm<float>("EELS Spectrum Image.dm3", &info);
// si.navigation_shape() == {2, 21}, si.axis(): 2048 channels from 440 eV, 0.3 eV
// si.metadata().beam_energy_kev == 300, .collection_semiangle_mrad == 100
// info.format == Format::dm3, info.dtype == "float32", info.axes: y, x, Energy loss
    (void)si;
}

// docs/formats.md, "HyperSpy .hspy"
inline void formats_hspy() {
    namespace io = corespec::io;
io::FileInfo info;
auto si = io::read_hspy<float>("si.hspy", &info);         // navigation x energy, any numeric dtype
io::write_hspy("out.hspy", si);                           // HyperSpy 1.7.3 opens it as it is
double total = 0.0;
io::for_each_hspy_block<float>("big.hspy", 16, [&](const io::SpectrumBlock<float>& b) {
    // b.values: b.pixels x b.channels, from row b.first_row of the first dimension, b.rows rows
    for (std::size_t i = 0; i < b.pixels * b.channels; ++i) total += b.values[i];
});
}

// docs/formats.md, "EMD"
inline void formats_emd() {
    namespace io = corespec::io;
io::FileInfo info;
auto berkeley = io::read_emd<float>("si.emd", &info);     // Berkeley EMD 0.2: navigation x energy
auto velox = io::read_emd<float>("eds_si.emd", &info);    // Velox: the spectrum stream decoded, frames summed
    (void)berkeley;
    (void)velox;
}

// docs/formats.md, "NeXus NXxas"
inline void formats_nexus() {
    namespace io = corespec::io;
auto mu = io::read_nxxas("scan.nxs");                     // grid::Spectrum<double>: mu(E)
// mu.metadata().extra["nexus.definition"]: "NXxas", "NXxas_trans", "NXxas_tfy", ...
// mu.metadata().extra["nexus.mu"]: how mu was obtained, e.g. "intensity", "ln(i0/itrans)"
    (void)mu;
}

}  // namespace doc_snippets

#endif  // CORESPEC_HAVE_HDF5
