// corespec/grid/metadata.hpp - what is known about where a spectrum came from.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace corespec::grid {

/// The measurement technique of a spectrum.
enum class Technique { unknown, xas, eels };

inline const char* to_string(Technique t) noexcept {
    switch (t) {
        case Technique::xas: return "XAS";
        case Technique::eels: return "EELS";
        default: return "unknown";
    }
}

/// Metadata carried with a spectrum or spectrum image. Quantities that a file
/// may lack are optional; everything else a reader finds goes into `extra`
/// (key -> text, keys namespaced like "msa.OWNER" or "dm.Microscope Info.Voltage").
struct Metadata {
    std::string title;
    std::string element;      ///< e.g. "Ni"
    std::string edge;         ///< e.g. "K", "L3", "L23"
    Technique technique = Technique::unknown;
    std::string signal_type;  ///< as the file says, e.g. "EELS", "XAS"
    std::string signal_units; ///< e.g. "counts", "mu"
    std::string source;       ///< file path or "<memory>"
    std::optional<double> beam_energy_kev;            ///< EELS primary beam energy
    std::optional<double> convergence_semiangle_mrad; ///< EELS probe convergence
    std::optional<double> collection_semiangle_mrad;  ///< EELS spectrometer collection
    std::optional<double> exposure_s;                 ///< acquisition time per spectrum
    std::map<std::string, std::string> extra;
};

}  // namespace corespec::grid
