// libFuzzer target: the architecture JSON parser, and building the model it
// describes with zero weights of the shapes it asks for (when small), then
// one forward pass on a zero input of its declared shape.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <corespec/nn/serialize.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace corespec::nn;
    try {
        const ModelSpec spec = parse_model_spec(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
        // Zero tensors for every parameter, unless the model is large.
        SafeTensors st;
        std::size_t total = 0;
        for (const auto& part : spec.parts())
            for (const LayerSpec& l : part.second->layers)
                for (const auto& p : l.parameter_shapes()) {
                    std::size_t n = 1;
                    for (std::size_t d : p.second) n = (d && n > (std::size_t(1) << 22) / d) ? (std::size_t(1) << 23) : n * d;
                    total += n;
                    if (total > (std::size_t(1) << 22)) return 0;
                    if (!st.contains(l.params.at(p.first)))
                        st.add<float>(l.params.at(p.first), p.second, std::vector<float>(n, 0.0f));
                }
        LoadOptions opt;
        opt.verify = false;
        const Model<float> model = build_model<float>(spec, st, "fuzz", opt);
        if (spec.input_shape.empty()) return 0;
        Shape in = Shape(spec.input_shape).with_batch(2);
        if (in.size() > (std::size_t(1) << 20)) return 0;
        const Shape out = model.output_shape(in);
        if (model.peak_activation_size(in) > (std::size_t(1) << 22)) return 0;
        std::vector<float> x(in.size(), 0.0f), y(out.size());
        Workspace<float> ws;
        model.forward(ConstTensorView<float>(x.data(), in), TensorView<float>(y.data(), out), ws);
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    return 0;
}
