#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "corespec/align/calibration.hpp"
#include "corespec/synth/nmc.hpp"

using namespace corespec;
using synth::NmcEdge;

namespace {

synth::NmcOptions noise_free() {
    synth::NmcOptions o;
    o.noise = false;
    return o;
}

grid::Spectrum<double> edge_of(const synth::NmcStructure& s, NmcEdge e) {
    synth::Random rng(11);  // the same intensity draw for every structure
    return synth::nmc_spectrum(s, e, rng, noise_free());
}

double integral(const grid::Spectrum<double>& s, double lo, double hi) {
    double sum = 0.0;
    for (std::size_t i = 0; i + 1 < s.size(); ++i)
        if (s.energy(i) >= lo && s.energy(i + 1) <= hi) sum += 0.5 * (s[i] + s[i + 1]) * (s.energy(i + 1) - s.energy(i));
    return sum;
}

double max_in(const grid::Spectrum<double>& s, double lo, double hi) {
    double best = -1e300;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (s.energy(i) >= lo && s.energy(i) <= hi) best = std::max(best, s[i]);
    return best;
}

double value_at(const grid::Spectrum<double>& s, double e) {
    return s[static_cast<std::size_t>(s.axis().index(e))];
}

double argmax_energy(const grid::Spectrum<double>& s, double lo, double hi) {
    double best = -1e300, at = 0.0;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (s.energy(i) >= lo && s.energy(i) <= hi && s[i] > best) best = s[i], at = s.energy(i);
    return at;
}

}  // namespace

TEST_CASE("synth::nmc: the same seed gives the same samples, independent of the set size") {
    const auto a = synth::nmc_sample(7, 3);
    const auto b = synth::nmc_sample(7, 3);
    const auto set = synth::nmc_samples(5, 7);
    REQUIRE(a.spectra.size() == synth::nmc_edges.size());
    for (std::size_t m = 0; m < a.spectra.size(); ++m) {
        CHECK(a.spectra[m].values() == b.spectra[m].values());
        CHECK(a.spectra[m].values() == set[3].spectra[m].values());
    }
    CHECK(a.structure.ni == set[3].structure.ni);
    CHECK(a.id == "synth3");
    const auto other = synth::nmc_sample(8, 3);
    CHECK(other.spectra[0].values() != a.spectra[0].values());
    // The random source is specified bit for bit (no std:: distributions).
    synth::Random r1(42), r2(42);
    for (int i = 0; i < 100; ++i) {
        CHECK(r1.normal() == r2.normal());
        CHECK(r1.poisson(12.5) == r2.poisson(12.5));
    }
}

TEST_CASE("synth::nmc: charge balance holds for every drawn structure") {
    synth::NmcOptions o;
    o.o_vacancy_probability = 0.5;
    o.antisite_probability = 0.5;
    synth::Random rng(3);
    std::size_t with_vacancy = 0, with_antisite = 0;
    for (int i = 0; i < 2000; ++i) {
        const auto s = synth::sample_nmc_structure(rng, o);
        CAPTURE(i);
        CHECK(std::abs(s.charge_residual()) < 1e-12);
        CHECK(std::abs(s.ni + s.mn + s.co - 1.0) < 1e-12);
        CHECK(s.valence_ni >= 2.0);
        CHECK(s.valence_ni <= 4.0);
        CHECK(s.valence_mn >= 3.0);
        CHECK(s.valence_mn <= 4.0);
        CHECK(s.valence_co >= 2.0);
        CHECK(s.valence_co <= 4.0);
        with_vacancy += s.o_vacancy_present();
        with_antisite += s.antisite_present();
    }
    CHECK(with_vacancy > 850);
    CHECK(with_vacancy < 1150);
    CHECK(with_antisite > 850);
    CHECK(with_antisite < 1150);

    // Textbook cases: NMC111 at full lithiation is Ni2+ Co3+ Mn4+; half
    // delithiated NMC811 has Ni above 3+; an O vacancy lowers the mean valence.
    const auto nmc111 = synth::nmc_structure(1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0);
    CHECK(nmc111.valence_ni == doctest::Approx(2.0));
    CHECK(nmc111.valence_mn == doctest::Approx(4.0));
    CHECK(nmc111.valence_co == doctest::Approx(3.0));
    CHECK(nmc111.mean_tm_valence() == doctest::Approx(3.0));
    const auto nmc811 = synth::nmc_structure(0.8, 0.1, 0.1, 0.5);
    CHECK(nmc811.valence_ni == doctest::Approx((3.5 - 0.4 - 0.3) / 0.8));
    const auto reduced = synth::nmc_structure(0.8, 0.1, 0.1, 0.5, 0.05);
    CHECK(reduced.mean_tm_valence() == doctest::Approx(3.5 - 0.2));
    // NMC111 with vacancies cannot reduce Ni below 2+: Mn takes the electrons.
    const auto mn3 = synth::nmc_structure(1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0, 0.06);
    CHECK(mn3.valence_ni == doctest::Approx(2.0));
    CHECK(mn3.valence_mn == doctest::Approx(4.0 - 0.24 * 3));
    // Deep delithiation of a Ni-rich oxide oxidises Co once Ni is 4+.
    const auto deep = synth::nmc_structure(0.9, 0.05, 0.05, 0.02);  // Ni would be 4.033+
    CHECK(deep.valence_ni == doctest::Approx(4.0));
    CHECK(deep.valence_co == doctest::Approx(3.6));
    CHECK(std::abs(deep.charge_residual()) < 1e-12);

    CHECK_THROWS_AS(synth::nmc_structure(0.5, 0.5, 0.5, 1.0), value_error);
    CHECK_THROWS_AS(synth::nmc_structure(0.5, 0.3, 0.2, 1.2), value_error);
    CHECK_THROWS_AS(synth::nmc_structure(0.5, 0.3, 0.2, 1.0, 0.0, 0.5), value_error);
    CHECK_THROWS_AS(synth::nmc_structure(0.5, 0.3, 0.2, std::nan(""), 0.0, 0.0), value_error);
    // All electrons, nowhere to go: Ni 2+, Mn 3+, Co 2+ cannot take 0.2 more.
    CHECK_THROWS_AS(synth::nmc_structure(0.2, 0.4, 0.4, 1.0, 0.25), value_error);
}

TEST_CASE("synth::nmc: K edges and L3 move up with the valence, by 1-3 eV per unit for K") {
    // Ni valence rises as Li is removed (Mn, Co stay 4+ / 3+ in NMC532).
    double last_onset = 0.0, last_l3 = 0.0, last_ratio = 1e9, last_v = 0.0;
    double first_onset = 0.0, first_v = 0.0;
    for (double li : {1.0, 0.85, 0.7, 0.55, 0.4}) {
        const auto s = synth::nmc_structure(0.5, 0.3, 0.2, li);
        CAPTURE(li);
        const double onset = align::find_edge_onset(edge_of(s, NmcEdge::ni_k), 8330.0, 8350.0);
        const auto ni_l = edge_of(s, NmcEdge::ni_l23);
        // White-line heights above the level just before each line.
        const double l3 = max_in(ni_l, 850.0, 862.0) - value_at(ni_l, 849.0);
        const double l2 = max_in(ni_l, 867.0, 879.0) - value_at(ni_l, 866.0);
        const double l3_peak = argmax_energy(ni_l, 850.0, 855.5);  // the main L3 line
        if (last_v > 0.0) {
            CHECK(s.valence_ni > last_v);
            CHECK(onset > last_onset);
            CHECK(l3_peak >= last_l3);
            // (Above Ni 3.5+ the multiplet shoulder overtakes the main L3 line and
            // a height ratio no longer measures the area ratio.)
            if (s.valence_ni < 3.5) CHECK(l3 / l2 < last_ratio);
        } else {
            first_onset = onset, first_v = s.valence_ni;
        }
        last_onset = onset, last_l3 = l3_peak, last_ratio = l3 / l2, last_v = s.valence_ni;
    }
    const double per_unit = (last_onset - first_onset) / (last_v - first_v);
    CHECK(per_unit > 1.0);
    CHECK(per_unit < 3.0);

    // Mn reduced by O vacancies in NMC111: the Mn K edge moves down.
    const auto full = synth::nmc_structure(1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0, 0.0);
    const auto reduced = synth::nmc_structure(1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0, 0.06);
    REQUIRE(reduced.valence_mn < full.valence_mn);
    CHECK(align::find_edge_onset(edge_of(reduced, NmcEdge::mn_k), 6535.0, 6560.0) <
          align::find_edge_onset(edge_of(full, NmcEdge::mn_k), 6535.0, 6560.0));
}

TEST_CASE("synth::nmc: the O K pre-peak follows TM-O holes and O vacancies reduce it") {
    const auto pre = [](const synth::NmcStructure& s) {
        const auto o = edge_of(s, NmcEdge::o_k);
        return integral(o, 527.0, 532.5) / integral(o, 536.0, 548.0);  // relative to the main peak
    };
    const auto lithiated = synth::nmc_structure(0.6, 0.2, 0.2, 1.0);
    const auto delithiated = synth::nmc_structure(0.6, 0.2, 0.2, 0.5);
    const auto vacant = synth::nmc_structure(0.6, 0.2, 0.2, 0.5, 0.06);
    CHECK(pre(delithiated) > pre(lithiated));
    CHECK(pre(vacant) < pre(delithiated));
}

TEST_CASE("synth::nmc: defects are subtle on one edge and seen on several") {
    const auto clean = synth::nmc_structure(0.6, 0.2, 0.2, 0.7);
    const auto anti = synth::nmc_structure(0.6, 0.2, 0.2, 0.7, 0.0, 0.05);
    const auto vac = synth::nmc_structure(0.6, 0.2, 0.2, 0.7, 0.04, 0.0);
    // More Li gives the same valences as the vacancies: the valence alone cannot tell them apart.
    const auto same_valence = synth::nmc_structure(0.6, 0.2, 0.2, 0.7 + 4 * 0.04);
    REQUIRE(same_valence.valence_ni == doctest::Approx(vac.valence_ni));
    const auto relative_change = [](const synth::NmcStructure& a, const synth::NmcStructure& b, NmcEdge e) {
        const auto x = edge_of(a, e), y = edge_of(b, e);
        double diff = 0.0, top = 0.0;
        for (std::size_t i = 0; i < x.size(); ++i) diff = std::max(diff, std::abs(x[i] - y[i])), top = std::max(top, x[i]);
        return diff / top;
    };
    // Antisites change the Ni edges and O K (a little) and leave Mn / Co alone.
    for (NmcEdge e : {NmcEdge::ni_k, NmcEdge::ni_l23, NmcEdge::o_k}) {
        CHECK(relative_change(clean, anti, e) > 0.005);
        CHECK(relative_change(clean, anti, e) < 0.15);
    }
    CHECK(relative_change(clean, anti, NmcEdge::mn_k) == 0.0);
    CHECK(relative_change(clean, anti, NmcEdge::co_l23) == 0.0);
    // At equal valence, the vacancies' own signature (under-coordinated TM,
    // weaker TM-O hybridisation) touches every edge, none of them much.
    for (const auto& e : synth::nmc_edges) {
        const std::string name = e.name;
        CAPTURE(name);
        CHECK(relative_change(same_valence, vac, e.id) > 0.002);
        CHECK(relative_change(same_valence, vac, e.id) < 0.15);
    }
    // On a TM K edge that signature looks like a local distortion of that TM
    // (a nuisance drawn independently per TM): one edge cannot tell them apart.
    auto distorted = same_valence;
    distorted.distortion_mn = 0.8 * (1.0 - std::pow(1.0 - 0.04, 6.0));
    CHECK(relative_change(distorted, vac, NmcEdge::mn_k) < 0.2 * relative_change(same_valence, vac, NmcEdge::mn_k));
}

TEST_CASE("synth::nmc: spectra carry raw axes, metadata and finite values") {
    const auto set = synth::nmc_samples(60, 5);
    for (const auto& sample : set) {
        REQUIRE(sample.spectra.size() == 7);
        for (std::size_t m = 0; m < 7; ++m) {
            const auto& info = synth::nmc_edges[m];
            const auto& s = sample.spectra[m];
            const std::string name = info.name;
            CAPTURE(name);
            CHECK(s.axis().approx_equal(synth::nmc_raw_axis(info.id)));
            CHECK(s.metadata().element == info.element);
            CHECK(s.metadata().edge == info.edge);
            CHECK(s.metadata().technique == info.technique);
            const auto grid = synth::nmc_default_grid(info.id);
            CHECK(s.axis().front() < grid.front());
            CHECK(s.axis().back() > grid.back());
            for (double v : s.values()) {
                REQUIRE(std::isfinite(v));
                if (info.technique == grid::Technique::eels) {
                    CHECK(v >= 0.0);
                    CHECK(v == std::floor(v));  // Poisson counts
                }
            }
        }
    }
    CHECK(synth::nmc_raw_axis(NmcEdge::o_k).is_uniform());
    CHECK_FALSE(synth::nmc_raw_axis(NmcEdge::ni_k).is_uniform());
    CHECK(synth::nmc_default_grid(NmcEdge::o_k).size() == 167);
    CHECK(synth::nmc_default_grid(NmcEdge::mn_l23).size() == 201);
    const auto labels = synth::nmc_labels(set[0].structure);
    double fractions = 0.0;
    for (const auto& [name, value] : labels) {
        CHECK(std::isfinite(value));
        if (name.rfind("frac_", 0) == 0 && name != "frac_O_vac") fractions += value;
    }
    CHECK(fractions == doctest::Approx(1.0));
}
