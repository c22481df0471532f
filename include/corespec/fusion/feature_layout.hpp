// corespec/fusion/feature_layout.hpp - where each modality sits in a fused
// feature vector.
//
// A multimodal model sees one flat input: e.g. study 1 concatenates O K (167
// bins), Ni L (135), Mn L (200) and Co L (200) into 702 features. The layout
// records, for each modality, its name, its energy axis and the offset of its
// first bin, so that anything computed per input feature (an attribution, a
// mask) can be mapped back to (modality, energy).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"

namespace corespec::fusion {

/// One modality of a fused input: bins [offset, offset + axis.size()).
struct ModalitySlot {
    std::string name;
    grid::EnergyAxis axis;
    std::size_t offset = 0;
    std::size_t size() const noexcept { return axis.size(); }
    std::size_t end() const noexcept { return offset + axis.size(); }
};

class FeatureLayout {
public:
    FeatureLayout() = default;

    /// One modality covering a whole input of axis.size() features.
    static FeatureLayout single(std::string name, grid::EnergyAxis axis) {
        FeatureLayout l;
        l.add(std::move(name), std::move(axis));
        return l;
    }

    /// Appends a modality right after the last one. Throws value_error for an
    /// empty or repeated name.
    FeatureLayout& add(std::string name, grid::EnergyAxis axis) { return add(std::move(name), std::move(axis), size()); }

    /// Places a modality at `offset`. Throws value_error for an empty or
    /// repeated name or when its bins overlap another modality's.
    FeatureLayout& add(std::string name, grid::EnergyAxis axis, std::size_t offset) {
        if (name.empty()) throw value_error("fusion::FeatureLayout: a modality needs a name");
        for (const ModalitySlot& s : slots_) {
            if (s.name == name) throw value_error("fusion::FeatureLayout: modality '" + name + "' added twice");
            if (offset < s.end() && s.offset < offset + axis.size())
                throw value_error("fusion::FeatureLayout: modality '" + name + "' overlaps '" + s.name + "'");
        }
        slots_.push_back(ModalitySlot{std::move(name), std::move(axis), offset});
        return *this;
    }

    /// Number of features the layout spans (the end of its last bin).
    std::size_t size() const noexcept {
        std::size_t n = 0;
        for (const ModalitySlot& s : slots_) n = s.end() > n ? s.end() : n;
        return n;
    }
    std::size_t modality_count() const noexcept { return slots_.size(); }
    const ModalitySlot& operator[](std::size_t i) const { return slots_.at(i); }
    const std::vector<ModalitySlot>& modalities() const noexcept { return slots_; }
    auto begin() const noexcept { return slots_.begin(); }
    auto end() const noexcept { return slots_.end(); }

    /// Index of the modality called `name`; throws value_error if none.
    std::size_t find(const std::string& name) const {
        for (std::size_t i = 0; i < slots_.size(); ++i)
            if (slots_[i].name == name) return i;
        throw value_error("fusion::FeatureLayout: no modality '" + name + "'");
    }

    /// (modality index, bin) of input feature `feature`; throws range_error
    /// for a feature no modality covers.
    std::pair<std::size_t, std::size_t> locate(std::size_t feature) const {
        for (std::size_t i = 0; i < slots_.size(); ++i)
            if (feature >= slots_[i].offset && feature < slots_[i].end()) return {i, feature - slots_[i].offset};
        throw range_error("fusion::FeatureLayout: feature " + std::to_string(feature) + " belongs to no modality");
    }

private:
    std::vector<ModalitySlot> slots_;
};

}  // namespace corespec::fusion
