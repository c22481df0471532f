// spectrum_info FILE - what is in a spectrum file, as one JSON object.
//
// Reads any format corespec supports (format detected by content) and prints
// format, shape (navigation then signal), stored dtype, axes, the float64 sum
// of all values, the flat first and last values and the metadata that matter
// for analysis. Exit code 0 on success; 1 with the error on stderr when the
// file cannot be read; 2 on wrong usage.
//
//   $ spectrum_info ../shared/data/eels/exspy/coreloss_spectrum.msa
//   {"axes":[{"name":"Energy loss","navigate":false,"offset":360.0,"scale":0.2,...}],"dtype":"float64",
//    "first":47179.0,"format":"MSA","last":12924.0,"metadata":{"signal_type":"EELS"},"shape":[2048],"sum":47020089.0}
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include <corespec/io/read.hpp>

#include "support/command_line.hpp"

namespace {

template <class T>
nlohmann::json describe(const corespec::grid::SpectrumImage<T>& si, const corespec::io::FileInfo& info) {
    nlohmann::json out;
    out["format"] = corespec::io::to_string(info.format);
    out["dtype"] = info.dtype;
    nlohmann::json shape = nlohmann::json::array(), axes = nlohmann::json::array();
    for (const auto& a : info.axes) {
        shape.push_back(a.size);
        nlohmann::json j;
        j["name"] = a.name;
        j["size"] = a.size;
        if (a.is_explicit) {
            j["explicit"] = true;
            j["first"] = a.first;
            j["last"] = a.last;
        } else {
            j["offset"] = a.offset;
            j["scale"] = a.scale;
        }
        j["units"] = a.units;
        j["navigate"] = a.navigate;
        axes.push_back(j);
    }
    out["shape"] = shape;
    out["axes"] = axes;
    const auto& data = si.data();
    long double sum = 0.0L;
    for (const auto v : data) sum += static_cast<long double>(v);
    out["sum"] = static_cast<double>(sum);
    out["first"] = static_cast<double>(*data.begin());
    out["last"] = static_cast<double>(*(data.begin() + static_cast<std::ptrdiff_t>(data.size() - 1)));
    const auto& md = si.metadata();
    nlohmann::json m = nlohmann::json::object();
    if (md.beam_energy_kev) m["beam_energy_kev"] = *md.beam_energy_kev;
    if (md.convergence_semiangle_mrad) m["convergence_semiangle_mrad"] = *md.convergence_semiangle_mrad;
    if (md.collection_semiangle_mrad) m["collection_semiangle_mrad"] = *md.collection_semiangle_mrad;
    if (md.exposure_s) m["exposure_s"] = *md.exposure_s;
    if (!md.title.empty()) m["title"] = md.title;
    if (!md.signal_type.empty()) m["signal_type"] = md.signal_type;
    if (!md.element.empty()) m["element"] = md.element;
    if (!md.edge.empty()) m["edge"] = md.edge;
    out["metadata"] = m;
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const corespec_example::CommandLine cli(
        argc, argv, "spectrum_info FILE",
        {}, "Reads FILE (format chosen by content: DM3/DM4, HDF5 .hspy/EMD/NeXus, MSA, XDI, NPY, Athena,\n"
            "columns) and prints one JSON object: format, shape, axes, metadata.\n"
            "Exit status: 0 read, 1 the file cannot be read, 2 misuse.");
    const std::string path = cli.positional(1, 1)[0];
    try {
        corespec::io::FileInfo info;
        nlohmann::json out;
        try {
            out = describe(corespec::io::read_spectrum_image<double>(path, &info), info);
        } catch (const corespec::unsupported_error& e) {
            // Athena projects whose groups lie on different grids: describe the first group.
            if (info.format != corespec::io::Format::athena &&
                corespec::io::detect_format(corespec::io::detail::read_head(path, 4096), path) !=
                    corespec::io::Format::athena)
                throw;
            info = {};
            const auto project = corespec::io::read_athena(path);
            const auto s = corespec::io::read_spectrum<double>(path, &info);
            xt::xarray<double> data = xt::xarray<double>::from_shape({1, s.size()});
            std::copy(s.values().begin(), s.values().end(), data.begin());
            out = describe(corespec::grid::SpectrumImage<double>(std::move(data), s.axis(), s.metadata()), info);
            out["groups"] = project.groups.size();
            out["note"] = std::string("groups lie on different energy grids; the first group is described");
        }
        out["file"] = path;
        std::cout << out.dump() << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "spectrum_info: " << e.what() << "\n";
        return 1;
    }
}
