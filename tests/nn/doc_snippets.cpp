// The C++ blocks of docs/nn.md, docs/model_format.md, docs/training.md and
// docs/attribution.md, verbatim, with the variables they assume declared
// around them. The corespec_nn_tests executable compiles this file (the
// blocks are fragments, so they are compiled, not run); the ctest
// docs.snippets.* (tests/CMakeLists.txt, cmake/check_doc_snippets.cmake)
// fails when a block and this file differ.
#include <cstdint>
#include <vector>

#include <corespec/explain/aggregate.hpp>
#include <corespec/explain/attribution.hpp>
#include <corespec/explain/svg.hpp>
#include <corespec/nn/models/mlp.hpp>
#include <corespec/nn/models/vae.hpp>
#include <corespec/nn/serialize.hpp>
#include <corespec/nn/train/trainer.hpp>
#include <corespec/nn/train/vae_trainer.hpp>

namespace doc_snippets {

using corespec::nn::ConstTensorView;
using corespec::nn::TensorView;

// docs/nn.md, "Sequential"
void nn_sequential(ConstTensorView<float> in, TensorView<float> out) {
    using namespace corespec::nn;
corespec::nn::Sequential<float> model;
model.emplace<Dense<float>>(702, 128, Activation::relu())
     .emplace<Dense<float>>(128, 64, Activation::relu())
     .emplace<Dense<float>>(64, 8);
corespec::nn::Workspace<float> ws;                  // one per thread
model.forward(in, out, ws);                         // in: [batch, 702], out: [batch, 8]
corespec::ThreadPool pool(4);                       // the caller's threads (4, itself included)
std::vector<corespec::nn::Workspace<float>> workspaces(pool.size());
model.forward_parallel(in, out, corespec::span<corespec::nn::Workspace<float>>(workspaces), pool);  // split the batch
}

// docs/nn.md, "Adding a layer type": the Dense entry (a copy of the one in
// nn/layers/registry.hpp, compiled here against the registry's API)
namespace registry_example {
using namespace corespec::nn;
struct Dense : corespec::nn::layer_types::LayerTypeBase {
    static constexpr bool has_epilogue = true;  // takes a fused activation and a folded BatchNorm1d
    static void fields(LayerFields& f) {        // each key: range, default; other keys are refused
        f.size("in_features", 1, detail::max_features);
        f.size("out_features", 1, detail::max_features);
        f.flag("bias", true);
        f.fused_activation();
    }
    static ParameterShapes parameters(const LayerSpec& s) {  // PyTorch's names and layouts
        ParameterShapes out{{"weight", {s.size("out_features"), s.size("in_features")}}};
        if (s.flag("bias")) out.push_back({"bias", {s.size("out_features")}});
        return out;
    }
    template <class T>
    static std::unique_ptr<Layer<T>> make(const LayerSpec& s, const std::string& /*source, for messages*/) {
        return std::make_unique<corespec::nn::Dense<T>>(s.size("in_features"), s.size("out_features"),
                                                        detail::fused_activation_of(s), s.flag("bias"));
    }
};
inline constexpr LayerType dense_entry = describe_layer_type<Dense>("dense");
}  // namespace registry_example

// docs/model_format.md, the opening example
void model_format_load(ConstTensorView<float> in, TensorView<float> out) {
auto model = corespec::nn::load_model<float>("mlp.safetensors");   // throws on any problem
corespec::nn::Workspace<float> ws;                                  // one per thread
model.forward(in, out, ws);                                         // in [batch, 702] -> out [batch, 8]
corespec::nn::save_model(model, "copy.safetensors");
}

// docs/training.md, the MLP
void training_mlp(ConstTensorView<float> x, ConstTensorView<float> y) {
using namespace corespec::nn;

Sequential<float> model = make_mlp<float>({702, 128, 64, 8});   // study 1
train::init_default(model, /*seed*/ 42);            // PyTorch's default initialisation
train::MseLoss<float> loss;
train::Adam<float> adam(1e-3, {0.9, 0.999, 1e-8, /*weight_decay*/ 1e-5});
train::TrainOptions opt;
opt.epochs = 200;  opt.batch_size = 64;  opt.val_fraction = 0.1;  opt.patience = 20;
opt.threads = 2;   opt.seed = 7;
train::Trainer<float> trainer(model, loss, adam, opt);
train::TrainResult r = trainer.fit(x, y);           // x [n, 702], y [n, 8] (ConstTensorView)
// r.epochs_run, r.best_epoch, r.train_loss, r.val_loss, r.seconds_per_epoch, r.history
(void)r;
}

// docs/training.md, the VAE
void training_vae(const std::vector<float>& x, std::size_t n) {
using namespace corespec::nn;

Vae<float> vae = make_conv_vae<float>();              // study 2: [n, 1, 240] -> latent 16
std::uint64_t seed = 1;
for (Sequential<float>* part : train::vae_parts(vae)) train::init_default(*part, seed++);
train::MseLoss<float> recon;
train::Adam<float> adam(1e-3);
train::VaeTrainOptions opt;                           // every TrainOptions field, plus beta
opt.beta = 0.01;  opt.epochs = 200;  opt.batch_size = 32;  opt.val_fraction = 0.1;  opt.patience = 20;
train::VaeTrainer<float> trainer(vae, recon, adam, opt);
train::TrainResult r = trainer.fit(ConstTensorView<float>(x.data(), Shape{n, 1, 240}));
(void)r;
}

// docs/attribution.md
void attribution(ConstTensorView<float> x) {
using namespace corespec;

fusion::FeatureLayout layout;                       // where each edge sits in the 702 inputs
layout.add("O K",  grid::EnergyAxis::uniform(528.9, 0.2, 167))
      .add("Ni L", grid::EnergyAxis::uniform(853.1, 0.2, 135))
      .add("Mn L", grid::EnergyAxis::uniform(635.1, 0.2, 200))
      .add("Co L", grid::EnergyAxis::uniform(775.1, 0.2, 200));

auto model = nn::load_model<float>("model.safetensors");
explain::ModelGradient<float> f(model);             // a loaded model (or any nn::Sequential); one per thread
auto ig = explain::integrated_gradients(f, x, /*output*/ 3);   // x [batch, 702]
const double gap = ig.max_completeness_error();     // sum of attributions vs f(x) - f(baseline)

auto parts = explain::per_modality(span<const float>(ig.attributions.data(), 702), layout);
const double ni_share = parts[1].share;             // Ni L's share of the total |attribution|
const double ni_l3 = explain::window_sum(parts[1], 853.0, 855.0);  // "Ni L3 at 853-855 eV"
explain::write_attribution_svg("ig.svg", span<const float>(x.data(), 702),
                               span<const float>(ig.attributions.data(), 702), layout, {"antisite flag"});
(void)gap, (void)ni_share, (void)ni_l3;
}

}  // namespace doc_snippets
