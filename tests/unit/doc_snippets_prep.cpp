// The C++ blocks of docs/preprocessing.md, docs/alignment.md and
// docs/grid.md, verbatim, with the variables they assume declared around
// them (function parameters). corespec_tests compiles this file (the blocks
// are fragments: compiled, not run); the ctest docs.snippets.* checks
// (cmake/check_doc_snippets.cmake) fail when a page and this file differ.
#include <cstddef>
#include <string>
#include <vector>

#include <corespec/io/edge_shift_table.hpp>  // docs/alignment.md names it in a comment
#include <corespec/align/calibration.hpp>
#include <corespec/align/zero_loss.hpp>
#include <corespec/grid/resample.hpp>   // axes, Spectrum, SpectrumImage, resampling
#include <corespec/io/read.hpp>
#include <corespec/prep/eels_background.hpp>
#include <corespec/prep/low_loss.hpp>
#include <corespec/prep/xas_normalize.hpp>
#include <corespec/steps/recipe.hpp>

namespace doc_snippets_prep {

// docs/preprocessing.md, XAS: a scan to a model input
void preprocessing_xas_recipe() {
using namespace corespec;

const auto recipe = steps::Recipe()
                        .then(steps::PreEdgeStep())   // Larch defaults
                        .then(steps::Resample(-20, 60, 0.5, steps::GridReference::e0));
// or: steps::Recipe::parse(text_of_the_json_above)

std::vector<float> x = recipe.values<float>(io::read_spectrum<double>("Fe2O3_rt_01.xdi"));
// 161 values: the normalised mu at e0 - 20 .. e0 + 60 eV; throws if the scan has no edge

auto r = recipe.run(io::read_spectrum<double>("Fe2O3_rt_01.xdi"));
// r.spectrum on the relative axis -20 .. 60, r.status(),
// r.report.value(0, "pre_edge.e0"), r.report.value(0, "pre_edge.edge_step")
std::string saved = recipe.dump();   // store it beside the model
}

// docs/preprocessing.md, EELS: background, crop, resample
void preprocessing_eels_recipe(
        const corespec::grid::SpectrumImage<float>& image,
        const corespec::grid::EnergyAxis& axis,
        const float* frame,
        std::size_t pixels) {
    using namespace corespec;
prep::BackgroundOptions bg;
bg.lo = 500.0;
bg.hi = 509.75;
const auto recipe = steps::Recipe()
                        .then(steps::BackgroundStep(bg))
                        .then(steps::Crop(520.0, 600.0))
                        .then(steps::Resample(521.0, 599.0, 0.5));

auto r = recipe.run(image, 2);                   // grid::SpectrumImage<float>, 2 threads
// r.image: new image on 521 .. 599 eV; r.report.status (one PixelStatus per pixel),
// r.report.failed(), r.report.failed_step, r.report.column("eels_background.r")

// A caller's buffer (an acquisition frame), no copy: plan once, run per frame.
const auto plan = recipe.prepare(axis);
std::vector<float> out(pixels * plan.output_axis().size());
auto report = recipe.run(plan, steps::Block<const float>::contiguous(frame, pixels, axis.size()),
                         span<float>(out), 2);
// Energy-slowest data: steps::Block<const float>{data, pixels, channels, 1, pixels}
}

// docs/preprocessing.md, companion signals (deconvolution)
void preprocessing_companions(
        const corespec::grid::SpectrumImage<float>& core_loss_image,
        const corespec::grid::SpectrumImage<float>& low_loss_image,
        const corespec::grid::Spectrum<float>& core_loss,
        const corespec::grid::Spectrum<float>& low_loss) {
    using namespace corespec;
const auto deconvolve = steps::Recipe().then(steps::Deconvolve(prep::FourierRatioOptions{}));
auto d = deconvolve.run(core_loss_image, steps::Companions<float>().add("low_loss", low_loss_image), 2);
// d.image: each pixel deconvolved by its own low loss, as fourier_ratio_deconvolution on that pair;
// d.report.column("deconvolve.threshold"), ".fwhm", ".i0": what each pixel used
auto one = deconvolve.run(core_loss, steps::Companions<float>().add("low_loss", low_loss));  // one spectrum
const auto plan = deconvolve.prepare(core_loss_image.axis(), {{"low_loss", low_loss_image.axis()}});
}

// docs/preprocessing.md, XAS normalisation
void preprocessing_xas(
        const std::vector<double>& energy,
        const std::vector<double>& mu,
        const corespec::grid::Spectrum<double>& spectrum) {
using namespace corespec;

auto r = prep::pre_edge(span<const double>(energy), span<const double>(mu));  // Larch defaults
// r.e0, r.edge_step, r.pre1, r.pre2, r.norm1, r.norm2, r.nnorm (values used),
// r.pre_offset, r.pre_slope (pre-edge line), r.norm_coefs (post-edge polynomial),
// r.pre_edge, r.post_edge, r.norm, r.flat, r.dmude (arrays on the input energies)

prep::PreEdge step;                       // explicit form: any subset of the parameters
step.params.e0 = 7112.0;
step.params.pre1 = -150;  step.params.pre2 = -30;
step.params.norm1 = 150;  step.params.norm2 = 700;  step.params.nnorm = 2;
auto s = step(spectrum.view());           // any Spectrum<float|double> view

double e0 = prep::find_e0(span<const double>(energy), span<const double>(mu));
(void)e0;
}

// docs/preprocessing.md, smoothing and derivatives
void preprocessing_smoothing(
        const std::vector<double>& y,
        const std::vector<double>& energy,
        const std::vector<double>& mu,
        const corespec::grid::Spectrum<double>& spectrum) {
    using namespace corespec;
prep::SavitzkyGolay sg{11, 3};            // window 11 (odd), cubic, deriv 0, delta 1
auto y_s = sg(span<const double>(y));
prep::SavitzkyGolay d1{11, 3, 1, 0.25};   // first derivative, 0.25 eV spacing
auto dy = d1(spectrum.view());            // uniform axis: delta taken from the axis
auto g = prep::gradient(span<const double>(energy), span<const double>(mu));      // numpy.gradient
auto g2 = prep::gradient(span<const double>(energy), span<const double>(mu), 2);  // edge_order=2
}

// docs/preprocessing.md, broadening
void preprocessing_broadening(
        const std::vector<double>& x_in,
        const std::vector<double>& y_in,
        const std::vector<double>& x_out,
        const corespec::grid::Spectrum<double>& spectrum,
        const corespec::grid::EnergyAxis& out_axis) {
    using namespace corespec;
prep::Broaden b;
b.sigma = 0.2;                 // Gaussian standard deviation (instrument), eV
b.lorentz_fwhm = 0.89;         // Lorentzian FWHM (core-hole lifetime), eV
b.lorentz_slope = 1.0 / 40;    // energy-dependent: FWHM grows by 1/40 per eV ...
b.lorentz_onset = 4869.1673;   // ... above this energy (e.g. the Fermi level)
b.shift = 100.0;               // added to the input energies
b.weight_by_energy = true;     // multiply by E (absorption cross-section), as Lightshow
auto out = b(span<const double>(x_in), span<const double>(y_in), span<const double>(x_out));
auto s2 = b(spectrum, out_axis);  // Spectrum -> Spectrum on any axis
}

// docs/preprocessing.md, per-spectrum normalisation
void preprocessing_normalize(
        corespec::grid::Spectrum<double>& spectrum,
        corespec::grid::SpectrumImage<float>& image,
        std::vector<float>& buf,
        const corespec::grid::EnergyAxis& axis) {
    using namespace corespec;
auto n = prep::Normalize{prep::NormKind::min_max}(spectrum);          // copy
prep::Normalize{prep::NormKind::area}.apply(spectrum.view());          // in place
auto status = prep::Normalize{prep::NormKind::min_max}.apply_image(image);  // per pixel
auto st2 = prep::Normalize{prep::NormKind::max}.apply_block(span<float>(buf), axis);
}

// docs/preprocessing.md, EELS background
void preprocessing_background(corespec::grid::SpectrumImage<float>& image) {
using namespace corespec;

prep::BackgroundOptions o;
o.lo = 490.0; o.hi = 511.0;                    // window (eV), before the O K edge
o.fit = prep::BackgroundFit::fast;             // or least_squares
auto r = prep::remove_background(image, o, 2); // SpectrumImage<float|double>, 2 threads
// r.subtracted (same axis), r.parameters (nav shape + {A, r}), r.status per pixel
auto f = prep::remove_background_in_place(image, o, 2);  // image becomes the subtracted one
// f.parameters, f.status: as above, no second image
}

// docs/preprocessing.md, low loss
void preprocessing_low_loss(
        const corespec::grid::SpectrumImage<double>& low_loss,
        const corespec::grid::Spectrum<double>& ll_spectrum,
        const corespec::grid::Spectrum<double>& zlp_spectrum,
        const corespec::grid::Spectrum<double>& core_loss) {
    using namespace corespec;
auto centres = prep::zlp_centres(low_loss);                   // eV per pixel
auto t = prep::thickness(low_loss, prep::ThresholdOptions{}); // t/lambda, auto threshold
auto t3 = prep::thickness(low_loss, 3.0);                     // fixed 3 eV threshold
prep::AbsoluteThicknessOptions a;                              // thickness in nm:
a.density = 3.6; a.microscope = prep::EelsMicroscope{200.0, 10.0, 20.0};
auto nm = prep::absolute_thickness(t3, a).thickness_nm;
auto fld = prep::fourier_log_deconvolution(ll_spectrum, zlp_spectrum);
prep::FourierRatioInfo used;                                   // optional: what it chose
auto frd = prep::fourier_ratio_deconvolution(core_loss, ll_spectrum, {}, &used);
// used.threshold, used.fwhm (eV), used.i0

// One spectrum: the same calls, no 1 x N wrapping
double c = prep::zlp_centre(ll_spectrum);                      // eV
auto ts = prep::thickness(ll_spectrum, prep::ThresholdOptions{}); // SpectrumThickness:
// ts.t_over_lambda, ts.total, ts.zero_loss, ts.threshold, ts.status
(void)c;
(void)ts;
}

// docs/alignment.md, zero-loss alignment
void alignment_zero_loss(
        const corespec::grid::SpectrumImage<double>& low_loss,
        const corespec::grid::SpectrumImage<double>& core_loss) {
using namespace corespec;

align::ZlpAlignOptions o;                              // HyperSpy's defaults
auto r = align::align_zero_loss(low_loss, o, {&core_loss});
// r.aligned, r.also[0] (core loss, same shifts), r.centre_before, r.shift (eV per pixel),
// r.shift_subpixel, r.offset_change
}

// docs/alignment.md, axis calibration
void alignment_calibration(const corespec::grid::EnergyAxis& axis) {
    using namespace corespec;
auto c = align::calibrate_axis(axis.as_uniform(), {{"O K", 514.5, 532.0},
                                                   {"Mn L3", 624.5, 640.0},
                                                   {"Co L3", 759.5, 779.0},
                                                   {"Ni L3", 832.5, 855.0}});
// c.offset, c.scale (eV/channel), c.residual per edge, c.rms, c.axis(size)
}

// docs/alignment.md, edge-shift tables
void alignment_edge_shifts(
        const corespec::grid::Spectrum<double>& simulated_NiO,
        const corespec::grid::Spectrum<double>& measured_NiO,
        std::vector<corespec::grid::Spectrum<double>>& simulated_set) {
    using namespace corespec;
align::EdgeShiftTable table;
double s = align::determine_edge_shift(simulated_NiO, measured_NiO, 848.0, 870.0);
table.set("Ni", "L3", "FDMNES", s, "NiO");
io::save_edge_shift_table("edge_shifts.json", table);     // corespec/io/edge_shift_table.hpp
auto t = io::load_edge_shift_table("edge_shifts.json");
t.apply_all(simulated_set, "FDMNES");   // uses each spectrum's metadata element/edge
}

// docs/grid.md, resampling
void grid_resample(
        const corespec::grid::Spectrum<double>& spectrum,
        const corespec::grid::SpectrumImage<float>& image,
        const corespec::grid::EnergyAxis& coarse_axis,
        const corespec::grid::EnergyAxis& from_axis,
        const corespec::grid::EnergyAxis& to_axis,
        corespec::span<const double> in_span,
        corespec::span<double> out_span) {
using namespace corespec::grid;
auto on_grid = resample(spectrum, UniformAxis::from_range(853.1, 880.1, 136), {Method::pchip});
auto counts  = resample(image, coarse_axis, {Method::rebin, OutOfRange::zero});
Resampler plan(from_axis, to_axis, {Method::linear});   // plan once ...
plan.apply(in_span, out_span);                          // ... apply to every pixel
}

}  // namespace doc_snippets_prep
