#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "corespec/io/athena.hpp"
#include "corespec/io/read.hpp"
#include "corespec/io/xdi.hpp"
#include "corespec/prep/xas_normalize.hpp"
#include "corespec/synth/xas_edge.hpp"
#include "support/shared_data.hpp"

using namespace corespec;
using namespace corespec::prep;

namespace {

// CSV with a '#' header line: columns as vectors.
std::vector<std::vector<double>> read_csv(const std::string& relative_to_reference) {
    const auto text = corespec_test::read_text(corespec_test::shared_path("reference/" + relative_to_reference));
    std::vector<std::vector<double>> cols;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ls(line);
        std::string field;
        std::size_t c = 0;
        while (std::getline(ls, field, ',')) {
            if (cols.size() <= c) cols.emplace_back();
            cols[c++].push_back(std::stod(field));
        }
    }
    return cols;
}

const nlohmann::json& reference() {
    static const nlohmann::json ref =
        nlohmann::json::parse(corespec_test::read_text(corespec_test::shared_path("reference/xas_reference.json")));
    return ref;
}

// One spectrum of the reference: input arrays and Larch's default results.
struct Case {
    std::string name;
    std::vector<double> energy, mu;
    const nlohmann::json* entry;  // experimental_scan entry or athena group
    bool athena = false;
    double e0 = 0, step = 0;
    nlohmann::json params;        // pre1, pre2, norm1, norm2, nnorm as chosen by Larch
    std::string default_csv;      // energy, norm, flat
};

std::vector<Case> edge_cases() {
    std::vector<Case> cases;
    for (const auto& item : reference().items()) {  // no structured bindings: INFO captures (clang 14)
        const std::string key = item.key();
        const auto& v = item.value();
        if (key == "provenance") continue;
        const std::string kind = v.value("kind", "");
        if (kind == "experimental_scan") {
            if (v.contains("warnings")) continue;  // the scan without an edge: tested separately
            const auto cols = read_csv(v["arrays"]["mu"].get<std::string>());
            Case c{key, cols[0], cols[1], &v, false, v["e0"].get<double>(), v["edge_step"].get<double>(),
                   v["params"], v["arrays"]["default"].get<std::string>()};
            cases.push_back(std::move(c));
        } else if (kind == "athena_project") {
            for (const auto& g : v["groups"]) {
                const auto cols = read_csv(g["arrays"]["xy"].get<std::string>());
                const double eshift = g["athena_numeric"]["eshift"].get<double>();
                std::vector<double> e = cols[0];
                for (double& x : e) x += eshift;
                const auto& d = g["larch_default_on_shifted_energy"];
                Case c{key + "#" + std::to_string(g["index"].get<int>()), e, cols[1], &g, true,
                       d["e0"].get<double>(), d["edge_step"].get<double>(), d["params"],
                       g["arrays"]["default"].get<std::string>()};
                cases.push_back(std::move(c));
            }
        }
    }
    return cases;
}

double local_step(const std::vector<double>& e, double at) {
    const std::size_t i = prep::detail::index_nearest(e, at);
    double s = 0;
    if (i > 0) s = std::max(s, e[i] - e[i - 1]);
    if (i + 1 < e.size()) s = std::max(s, e[i + 1] - e[i]);
    return s;
}

// max |a - b| over the arrays
double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

PreEdgeParams explicit_params(double e0, const nlohmann::json& p) {
    PreEdgeParams q;
    q.e0 = e0;
    q.pre1 = p["pre1"].get<double>();
    q.pre2 = p["pre2"].get<double>();
    q.norm1 = p["norm1"].get<double>();
    q.norm2 = p["norm2"].get<double>();
    q.nnorm = p["nnorm"].get<int>();
    return q;
}

}  // namespace

CORESPEC_REFERENCE_TEST("find_e0 equals Larch's e0 on every reference spectrum") {
    const auto cases = edge_cases();
    REQUIRE(cases.size() >= 60);
    std::size_t within = 0;
    double max_err = 0, max_steps = 0;
    for (const auto& c : cases) {
        INFO(c.name);
        const double e0 = find_e0(span<const double>(c.energy), span<const double>(c.mu));
        const double err = std::abs(e0 - c.e0);
        const double steps = err / local_step(c.energy, c.e0);
        CHECK(steps <= 1.0);
        within += err <= 0.01;
        max_err = std::max(max_err, err);
        max_steps = std::max(max_steps, steps);
    }
    const double frac = static_cast<double>(within) / static_cast<double>(cases.size());
    MESSAGE("find_e0: " << within << "/" << cases.size() << " within 0.01 eV (" << frac * 100
                        << " %), max |de0| = " << max_err << " eV = " << max_steps << " energy steps");
    CHECK(frac >= 0.9);
}

CORESPEC_REFERENCE_TEST("pre_edge with Larch defaults: parameters, edge step, norm and flat") {
    double max_step_rel = 0, max_norm = 0, max_flat = 0;
    std::size_t n = 0;
    for (const auto& c : edge_cases()) {
        INFO(c.name);
        const auto r = pre_edge(span<const double>(c.energy), span<const double>(c.mu));
        CHECK(r.e0 == doctest::Approx(c.e0).epsilon(1e-12));
        CHECK(r.pre1 == doctest::Approx(c.params["pre1"].get<double>()).epsilon(1e-9));
        CHECK(r.pre2 == doctest::Approx(c.params["pre2"].get<double>()).epsilon(1e-9));
        CHECK(r.norm1 == doctest::Approx(c.params["norm1"].get<double>()).epsilon(1e-9));
        CHECK(r.norm2 == doctest::Approx(c.params["norm2"].get<double>()).epsilon(1e-9));
        CHECK(r.nnorm == c.params["nnorm"].get<int>());
        CHECK(r.pre_slope == doctest::Approx(c.params["pre_slope"].get<double>()).epsilon(1e-6));
        REQUIRE(r.norm_coefs.size() == c.params["norm_coefs"].size());
        const double rel = std::abs(r.edge_step - c.step) / c.step;
        CHECK(rel <= 1e-3);
        const auto ref = read_csv(c.default_csv);
        const double dn = max_abs_diff(r.norm, ref[1]);
        const double df = max_abs_diff(r.flat, ref[2]);
        CHECK(dn <= 1e-3);
        CHECK(df <= 1e-3);
        max_step_rel = std::max(max_step_rel, rel);
        max_norm = std::max(max_norm, dn);
        max_flat = std::max(max_flat, df);
        ++n;
    }
    MESSAGE("pre_edge defaults on " << n << " spectra: max edge_step rel err " << max_step_rel << ", max |norm| err "
                                    << max_norm << ", max |flat| err " << max_flat);
}

CORESPEC_REFERENCE_TEST("pre_edge given Larch's e0 and chosen parameters") {
    double max_step_rel = 0, max_norm = 0, max_flat = 0;
    for (const auto& c : edge_cases()) {
        INFO(c.name);
        const auto r = pre_edge(span<const double>(c.energy), span<const double>(c.mu), explicit_params(c.e0, c.params));
        const double rel = std::abs(r.edge_step - c.step) / c.step;
        const auto ref = read_csv(c.default_csv);
        const double dn = max_abs_diff(r.norm, ref[1]);
        const double df = max_abs_diff(r.flat, ref[2]);
        CHECK(rel <= 1e-3);
        CHECK(dn <= 1e-3);
        CHECK(df <= 1e-3);
        max_step_rel = std::max(max_step_rel, rel);
        max_norm = std::max(max_norm, dn);
        max_flat = std::max(max_flat, df);
    }
    MESSAGE("pre_edge explicit (Larch e0 + chosen params): max edge_step rel err " << max_step_rel
                                                                                   << ", max |norm| err " << max_norm
                                                                                   << ", max |flat| err " << max_flat);
}

CORESPEC_REFERENCE_TEST("pre_edge with the fixed parameter set (pre -150..-30, norm 150..end-100, nnorm 2)") {
    double max_step_rel = 0, max_norm = 0, max_flat = 0;
    std::size_t n = 0;
    for (const auto& c : edge_cases()) {
        if (c.athena || !c.entry->contains("fixed") || !(*c.entry)["fixed"].contains("arrays")) continue;
        INFO(c.name);
        const auto& f = (*c.entry)["fixed"];
        const auto r = pre_edge(span<const double>(c.energy), span<const double>(c.mu),
                                explicit_params(f["e0"].get<double>(), f["params_requested"]));
        const auto& used = f["params_used"];
        CHECK(r.pre1 == doctest::Approx(used["pre1"].get<double>()).epsilon(1e-9));
        CHECK(r.pre2 == doctest::Approx(used["pre2"].get<double>()).epsilon(1e-9));
        CHECK(r.norm1 == doctest::Approx(used["norm1"].get<double>()).epsilon(1e-9));
        CHECK(r.norm2 == doctest::Approx(used["norm2"].get<double>()).epsilon(1e-9));
        CHECK(r.nnorm == used["nnorm"].get<int>());
        const double step = f["edge_step"].get<double>();
        const double rel = std::abs(r.edge_step - step) / step;
        const auto ref = read_csv(f["arrays"].get<std::string>());
        const double dn = max_abs_diff(r.norm, ref[1]);
        const double df = max_abs_diff(r.flat, ref[2]);
        CHECK(rel <= 1e-3);
        CHECK(dn <= 1e-3);
        CHECK(df <= 1e-3);
        max_step_rel = std::max(max_step_rel, rel);
        max_norm = std::max(max_norm, dn);
        max_flat = std::max(max_flat, df);
        ++n;
    }
    CHECK(n >= 30);
    MESSAGE("pre_edge fixed set on " << n << " scans: max edge_step rel err " << max_step_rel << ", max |norm| err "
                                     << max_norm << ", max |flat| err " << max_flat);
}

CORESPEC_REFERENCE_TEST("pre_edge with Athena's own parameters reproduces Athena's edge step") {
    double max_vs_athena = 0, max_vs_larch = 0;
    std::size_t n = 0;
    for (const auto& item : reference().items()) {  // no structured bindings: INFO captures (clang 14)
        const std::string key = item.key();
        const auto& v = item.value();
        if (key == "provenance" || v.value("kind", "") != "athena_project") continue;
        for (const auto& g : v["groups"]) {
            INFO(key << " group " << g["index"].get<int>());
            const auto& a = g["athena_numeric"];
            const bool shifted = g["athena_energy_scale"].get<std::string>() == "x + bkg_eshift";
            const auto cols = read_csv(g["arrays"]["xy"].get<std::string>());
            std::vector<double> e = cols[0];
            if (shifted)
                for (double& x : e) x += a["eshift"].get<double>();
            PreEdgeParams p;
            p.e0 = a["e0"].get<double>();
            p.pre1 = a["pre1"].get<double>();
            p.pre2 = a["pre2"].get<double>();
            p.norm1 = a["nor1"].get<double>();
            p.norm2 = a["nor2"].get<double>();
            p.nnorm = static_cast<int>(a["nnorm"].get<double>()) - 1;  // Athena counts coefficients
            const auto r = pre_edge(span<const double>(e), span<const double>(cols[1]), p);
            const double athena = g["step_athena"].get<double>();
            const double rel = std::abs(r.edge_step - athena) / athena;
            CHECK(rel <= 0.01);
            const auto& larch = g[shifted ? "larch_with_athena_params" : "larch_with_athena_params_unshifted"];
            const double rel_l = std::abs(r.edge_step - larch["edge_step"].get<double>()) / larch["edge_step"].get<double>();
            CHECK(rel_l <= 1e-3);
            max_vs_athena = std::max(max_vs_athena, rel);
            max_vs_larch = std::max(max_vs_larch, rel_l);
            ++n;
        }
    }
    CHECK(n >= 30);
    MESSAGE("Athena parameters on " << n << " groups: max edge_step rel err vs Athena " << max_vs_athena
                                    << ", vs Larch with the same parameters " << max_vs_larch);
}

CORESPEC_REFERENCE_TEST("a scan that stops before the edge is reported as having no edge") {
    const auto& v = reference()["data/xas/larch/fe_xanes_8ch.xdi"];
    REQUIRE(v.contains("warnings"));
    const auto cols = read_csv(v["arrays"]["mu"].get<std::string>());
    // find_e0 alone reproduces Larch's (spurious) candidate ...
    CHECK(find_e0(span<const double>(cols[0]), span<const double>(cols[1])) ==
          doctest::Approx(v["e0"].get<double>()).epsilon(1e-12));
    // ... pre_edge rejects it.
    CHECK_THROWS_AS(pre_edge(span<const double>(cols[0]), span<const double>(cols[1])), no_edge_error);
    PreEdgeParams lax;
    lax.min_edge_snr = 0;  // Larch's behaviour on request
    const auto r = pre_edge(span<const double>(cols[0]), span<const double>(cols[1]), lax);
    CHECK(r.edge_step == doctest::Approx(v["edge_step"].get<double>()).epsilon(1e-3));
    CHECK(r.edge_snr < 20);
}

CORESPEC_REFERENCE_TEST("from the raw files: io::read_spectrum derives mu and pre_edge reproduces Larch") {
    std::size_t n = 0;
    double max_mu = 0, max_de0 = 0, max_step = 0;
    for (const auto& item : reference().items()) {  // no structured bindings: INFO captures (clang 14)
        const std::string key = item.key();
        const auto& v = item.value();
        if (key == "provenance" || v.value("kind", "") != "experimental_scan" || v.contains("warnings")) continue;
        INFO(key);
        const auto s = io::read_spectrum<double>(corespec_test::shared_path(key));
        const auto ref = read_csv(v["arrays"]["mu"].get<std::string>());
        REQUIRE(s.size() == ref[0].size());
        for (std::size_t i = 0; i < s.size(); ++i) {
            REQUIRE(s.energy(i) == doctest::Approx(ref[0][i]).epsilon(1e-12));
            max_mu = std::max(max_mu, std::abs(s[i] - ref[1][i]) / std::max(1.0, std::abs(ref[1][i])));
        }
        const auto r = PreEdge{}(s.view());
        const double de0 = std::abs(r.e0 - v["e0"].get<double>());
        const double ds = std::abs(r.edge_step - v["edge_step"].get<double>()) / v["edge_step"].get<double>();
        CHECK(de0 <= 0.01);
        CHECK(ds <= 1e-3);
        max_de0 = std::max(max_de0, de0);
        max_step = std::max(max_step, ds);
        ++n;
    }
    CHECK(max_mu < 1e-7);
    CHECK(n >= 36);
    MESSAGE("raw files (" << n << "): max mu difference to the reference inputs " << max_mu << ", max |de0| " << max_de0
                          << " eV, max edge_step rel err " << max_step);
}

CORESPEC_REFERENCE_TEST("from the raw file: the 8-channel fluorescence XANES without an edge") {
    const auto x = io::read_xdi(corespec_test::shared_path("data/xas/larch/fe_xanes_8ch.xdi"));
    const auto& i0 = x.table.column("i0");
    std::vector<double> mu(i0.size(), 0.0);
    for (int ch = 1; ch <= 8; ++ch) {
        const auto& roi = x.table.column("fe_ka_mca" + std::to_string(ch));
        const auto& dt = x.table.column("dtfactor_mca" + std::to_string(ch));
        for (std::size_t i = 0; i < mu.size(); ++i) mu[i] += roi[i] * dt[i];
    }
    for (std::size_t i = 0; i < mu.size(); ++i) mu[i] /= i0[i];
    const auto ref = read_csv(reference()["data/xas/larch/fe_xanes_8ch.xdi"]["arrays"]["mu"].get<std::string>());
    REQUIRE(mu.size() == ref[1].size());
    for (std::size_t i = 0; i < mu.size(); ++i) CHECK(mu[i] == doctest::Approx(ref[1][i]).epsilon(1e-9));
    CHECK_THROWS_AS(pre_edge(span<const double>(x.table.column("energy")), span<const double>(mu)), no_edge_error);
}

CORESPEC_REFERENCE_TEST("from the .prj files: Athena's parameters reproduce Athena's edge step") {
    std::size_t n = 0;
    double worst = 0;
    for (const auto& item : reference().items()) {  // no structured bindings: INFO captures (clang 14)
        const std::string key = item.key();
        const auto& v = item.value();
        if (key == "provenance" || v.value("kind", "") != "athena_project") continue;
        const auto proj = io::read_athena(corespec_test::shared_path(key));
        REQUIRE(proj.groups.size() == v["groups"].size());
        for (const auto& g : v["groups"]) {
            const auto& grp = proj.groups.at(static_cast<std::size_t>(g["index"].get<int>()));
            INFO(key << " group " << grp.label);
            CHECK(grp.name == g["name"].get<std::string>());
            const bool shifted = g["athena_energy_scale"].get<std::string>() == "x + bkg_eshift";
            const auto s = io::to_spectrum<double>(grp, shifted);
            PreEdge step;
            step.params.e0 = grp.e0();
            step.params.pre1 = grp.number("bkg_pre1");
            step.params.pre2 = grp.number("bkg_pre2");
            step.params.norm1 = grp.number("bkg_nor1");
            step.params.norm2 = grp.number("bkg_nor2");
            step.params.nnorm = static_cast<int>(grp.number("bkg_nnorm").value()) - 1;  // Athena counts coefficients
            const auto r = step(s.view());
            const double athena = grp.step().value();
            const double rel = std::abs(r.edge_step - athena) / athena;
            CHECK(rel <= 0.01);
            worst = std::max(worst, rel);
            ++n;
        }
    }
    CHECK(n >= 30);
    MESSAGE(".prj groups (" << n << "): max edge_step rel err vs Athena's stored bkg_step " << worst);
}

TEST_CASE("pre_edge on a synthetic K edge recovers e0 and the step") {
    synth::XasEdgeParameters sp;
    sp.oscillation = 0.0;
    sp.white_line = 0.0;
    sp.pre_edge_peak = 0.0;
    const auto axis = grid::EnergyAxis::uniform(8133.0, 0.5, 1200);
    const auto s = synth::xas_edge(axis, sp);
    const auto r = PreEdge{}(s.view());
    CHECK(std::abs(r.e0 - sp.e0) <= 0.5);
    CHECK(r.edge_step == doctest::Approx(sp.edge_step).epsilon(0.05));
    CHECK(r.norm.size() == axis.size());
    CHECK(r.flat.back() == doctest::Approx(1.0).epsilon(0.05));
    CHECK(r.edge_snr > 20);
}

TEST_CASE("pre_edge rejects bad input with clear exceptions") {
    std::vector<double> e(200), mu(200);
    for (std::size_t i = 0; i < e.size(); ++i) {
        e[i] = 7000.0 + 2.0 * static_cast<double>(i);
        mu[i] = 0.5 + std::atan((e[i] - 7200.0) / 2.0) / M_PI;
    }
    SUBCASE("NaN in mu") {
        auto bad = mu;
        bad[17] = std::numeric_limits<double>::quiet_NaN();
        CHECK_THROWS_AS(pre_edge(span<const double>(e), span<const double>(bad)), value_error);
        CHECK_THROWS_AS(find_e0(span<const double>(e), span<const double>(bad)), value_error);
    }
    SUBCASE("Inf in energy") {
        auto bad = e;
        bad[3] = std::numeric_limits<double>::infinity();
        CHECK_THROWS_AS(pre_edge(span<const double>(bad), span<const double>(mu)), value_error);
    }
    SUBCASE("flat spectrum") {
        const std::vector<double> flat(e.size(), 0.7);
        CHECK_THROWS_AS(find_e0(span<const double>(e), span<const double>(flat)), no_edge_error);
        CHECK_THROWS_AS(pre_edge(span<const double>(e), span<const double>(flat)), no_edge_error);
    }
    SUBCASE("pure noise has no edge") {
        std::vector<double> noise(e.size());
        std::mt19937 rng(3);
        std::normal_distribution<double> g(1.0, 0.01);
        for (double& x : noise) x = g(rng);
        CHECK_THROWS_AS(pre_edge(span<const double>(e), span<const double>(noise)), no_edge_error);
    }
    SUBCASE("too few points") {
        const std::vector<double> e5(e.begin(), e.begin() + 5), m5(mu.begin(), mu.begin() + 5);
        CHECK_THROWS_AS(find_e0(span<const double>(e5), span<const double>(m5)), value_error);
        CHECK_THROWS_AS(pre_edge(span<const double>(e5), span<const double>(m5)), value_error);
    }
    SUBCASE("too few points for the post-edge polynomial") {
        PreEdgeParams p;
        p.e0 = 7200.0;
        p.norm1 = 20.0;
        p.norm2 = 24.0;  // three points, quadratic requested: Larch drops to degree <= 1 ...
        p.nnorm = 3;
        const auto r = pre_edge(span<const double>(e), span<const double>(mu), p);
        CHECK(r.nnorm <= 1);
        // ... but a window past the data end cannot be fitted at all
        std::vector<double> e8(e.begin(), e.begin() + 8), m8(8);
        for (std::size_t i = 0; i < 8; ++i) m8[i] = i < 4 ? 0.0 : 1.0 + 0.01 * static_cast<double>(i);
        PreEdgeParams q;
        q.e0 = e8[4];
        q.pre1 = -8;
        q.pre2 = -2;
        CHECK_NOTHROW(pre_edge(span<const double>(e8), span<const double>(m8), q));
        const std::vector<double> e3(e.begin(), e.begin() + 3), m3{0.0, 1.0, 2.0};
        PreEdgeParams t;
        t.e0 = e3[1];
        CHECK_THROWS_AS(pre_edge(span<const double>(e3), span<const double>(m3), t), value_error);
    }
    SUBCASE("a falling edge (mu with the wrong sign) is no edge, not a negative step") {
        std::vector<double> falling(mu.size());
        for (std::size_t i = 0; i < mu.size(); ++i) falling[i] = -mu[i];
        CHECK_THROWS_WITH_AS(pre_edge(span<const double>(e), span<const double>(falling)),
                             doctest::Contains("wrong sign"), no_edge_error);
        PreEdgeParams at_edge;
        at_edge.e0 = 7200.0;  // even at the right energy
        CHECK_THROWS_AS(pre_edge(span<const double>(e), span<const double>(falling), at_edge), no_edge_error);
        std::vector<double> block(falling);
        block.insert(block.end(), mu.begin(), mu.end());
        const auto b = PreEdge{}.apply_block(span<double>(block), grid::EnergyAxis::from_energies(e));
        CHECK(b.status[0] == EdgeStatus::no_edge);
        CHECK(b.status[1] == EdgeStatus::ok);
        CHECK(block[0] == falling[0]);  // left unchanged
    }
    SUBCASE("out-of-range parameters are errors naming the field") {
        const auto message = [&](PreEdgeParams p) {
            try {
                (void)pre_edge(span<const double>(e), span<const double>(mu), p);
            } catch (const no_edge_error&) {
                return std::string("no_edge_error");
            } catch (const value_error& x) {
                return std::string(x.what());
            }
            return std::string("accepted");
        };
        PreEdgeParams p;
        p.step = 0.0;
        CHECK(message(p).find("parameter step") != std::string::npos);
        p.step = -1.0;
        CHECK(message(p).find("parameter step") != std::string::npos);
        p = {};
        p.nnorm = 99;
        CHECK(message(p).find("parameter nnorm must be in 0..5, got 99") != std::string::npos);
        p.nnorm = -1;
        CHECK(message(p).find("parameter nnorm") != std::string::npos);
        p = {};
        p.npre = 2;
        CHECK(message(p).find("parameter npre") != std::string::npos);
        p = {};
        p.nvict = 9;
        CHECK(message(p).find("parameter nvict") != std::string::npos);
        p = {};
        p.min_edge_snr = -1.0;
        CHECK(message(p).find("parameter min_edge_snr") != std::string::npos);
        p = {};
        p.norm2 = std::numeric_limits<double>::infinity();
        CHECK(message(p).find("parameter norm2 must be finite") != std::string::npos);
        p = {};
        p.step = 0.5;  // a fixed positive step is used as given
        CHECK(message(p) == "accepted");
        CHECK(pre_edge(span<const double>(e), span<const double>(mu), p).edge_step == 0.5);
        // a block validates once and throws instead of failing every pixel
        std::vector<double> block(mu);
        PreEdge bad;
        bad.params.nnorm = 99;
        CHECK_THROWS_WITH_AS(bad.apply_block(span<double>(block), grid::EnergyAxis::from_energies(e)),
                             doctest::Contains("nnorm"), value_error);
    }
    SUBCASE("unsorted energies and size mismatch") {
        auto bad = e;
        std::swap(bad[10], bad[11]);
        CHECK_THROWS_AS(pre_edge(span<const double>(bad), span<const double>(mu)), value_error);
        const std::vector<double> short_mu(mu.begin(), mu.end() - 1);
        CHECK_THROWS_AS(pre_edge(span<const double>(e), span<const double>(short_mu)), shape_error);
    }
}

TEST_CASE("pre_edge follows Larch's parameter rules") {
    std::vector<double> e, mu;
    for (double x = 7000.0; x <= 7800.0; x += 1.0) {
        e.push_back(x);
        mu.push_back(0.1 - 1e-5 * x + 1.0 / (1.0 + std::exp(-(x - 7112.0) / 1.5)));
    }
    const auto r = pre_edge(span<const double>(e), span<const double>(mu));
    CHECK(r.e0 == doctest::Approx(7112.0).epsilon(1e-6));
    CHECK(r.pre1 == -110.0);  // 5*round((7001-7112)/5) = 5*round(-22.2)
    CHECK(r.pre2 == -55.0);
    CHECK(r.norm2 == 688.0);  // 5*round(688/5) = 690, clamped to the data end
    CHECK(r.nnorm == 2);
    CHECK(r.edge_step == doctest::Approx(1.0).epsilon(1e-3));
    CHECK(r.dmude.size() == e.size());
}

TEST_CASE("pre_edge over a block of spectra: a status per spectrum, good ones normalised in place") {
    const auto axis = grid::EnergyAxis::uniform(8133.0, 0.5, 1200);
    synth::XasEdgeParameters sp;
    sp.noise = 0.002;
    const auto good = synth::xas_edge(axis, sp, 11);
    std::vector<float> block(4 * axis.size());
    for (std::size_t i = 0; i < axis.size(); ++i) {
        block[i] = static_cast<float>(good[i]);
        block[axis.size() + i] = 0.25f;                                            // flat
        block[2 * axis.size() + i] = i == 7 ? NAN : static_cast<float>(good[i]);  // NaN
        block[3 * axis.size() + i] = static_cast<float>(2.0 * good[i]);           // twice the step
    }
    const auto b = PreEdge{}.apply_block(span<float>(block), axis);
    REQUIRE(b.status.size() == 4);
    CHECK(b.status[0] == EdgeStatus::ok);
    CHECK(b.status[1] == EdgeStatus::no_edge);
    CHECK(b.status[2] == EdgeStatus::non_finite);
    CHECK(b.status[3] == EdgeStatus::ok);
    CHECK(std::isnan(b.e0[1]));
    CHECK(b.e0[0] == doctest::Approx(b.e0[3]));
    CHECK(b.edge_step[3] == doctest::Approx(2.0 * b.edge_step[0]).epsilon(1e-4));
    CHECK(block[axis.size() - 1] == doctest::Approx(block[4 * axis.size() - 1]).epsilon(1e-4));  // both normalised
    CHECK(block[axis.size()] == 0.25f);                                                            // untouched
    const std::vector<double> single(axis.size() + 1);
    std::vector<double> odd(single);
    CHECK_THROWS_AS(PreEdge{}.apply_block(span<double>(odd), axis), shape_error);
    // a parameter set that leaves too few points
    const auto tiny = grid::EnergyAxis::from_energies({1.0, 2.0, 3.0});
    std::vector<double> three{0.0, 1.0, 2.0};
    PreEdge step;
    step.params.e0 = 2.0;
    const auto t = step.apply_block(span<double>(three), tiny);
    CHECK(t.status[0] == EdgeStatus::bad_window);
    CHECK(std::string(to_string(t.status[0])) == "too few points for a fit window");
}

TEST_CASE("find_e0 skips a glitch in the first 5 % of a long quick-EXAFS scan, in bounded time") {
    // 20000 points; a sharp glitch at index 600 (3 %) out-rises the real edge
    // at 8000 eV. Larch's guard then searches [glitch - 20, end) with the
    // smoothed derivative over almost the whole scan (Lorentzian window cut
    // at 8192 grid points) and finds the real edge.
    std::vector<double> e(20000), mu(20000);
    const auto logistic = [](double x, double w) { return 1.0 / (1.0 + std::exp(-x / w)); };
    for (std::size_t i = 0; i < e.size(); ++i) {
        e[i] = 7080.0 + 0.1 * static_cast<double>(i);
        mu[i] = 0.2 + 0.3 * logistic(e[i] - 7140.0, 0.1) + logistic(e[i] - 8000.0, 2.0) + 0.02 * std::sin(e[i] / 7.0);
    }
    CHECK(std::abs(find_e0(span<const double>(e), span<const double>(mu)) - 8000.0) < 0.5);
    // Larch ignores the first and last max(3, 2 %) of the points: an edge at
    // index 320 is not seen, and the largest other rise is returned
    for (std::size_t i = 0; i < e.size(); ++i)
        mu[i] = 0.2 + logistic(e[i] - 7112.0, 1.0) + 0.02 * std::sin(e[i] / 7.0);
    CHECK(std::abs(find_e0(span<const double>(e), span<const double>(mu)) - 7112.0) > 10.0);
}
