// Uses the optional HDF5 part (corespec::hdf5) through the packaged target:
// writes a small .hspy spectrum image and reads it back.
#include <cstdio>
#include <filesystem>

#include <corespec/io/hspy.hpp>

int main() {
    using namespace corespec;
    auto si = grid::SpectrumImage<float>::zeros({2, 3}, grid::EnergyAxis::uniform(100.0, 0.5, 16));
    for (std::size_t i = 0; i < si.data().size(); ++i) si.data().data()[i] = float(i);
    const auto path = std::filesystem::temp_directory_path() / "corespec_consumer_hdf5.hspy";
    io::write_hspy(path, si);
    const auto back = io::read_hspy<float>(path);
    std::filesystem::remove(path);
    const bool same = back.data() == si.data() && back.axis().size() == 16;
    std::printf("corespec::hdf5: .hspy round trip %s\n", same ? "equal" : "DIFFERS");
    return same ? 0 : 1;
}
