// nn_predict: run a corespec model file on a batch of inputs.
//
//   nn_predict MODEL INPUT.npy OUTPUT.npy [--threads N] [--repeat R] [--expect REF.npy [--rtol X]]
//
// MODEL is a corespec model file (docs/model_format.md; write one from
// PyTorch with tools/export_torch.py). INPUT holds one sample per row:
// batch x features, or batch x channels x length for conv models (float32
// or float64; a batch x length array feeds a one-channel conv model too).
// The model runs in its file's dtype; OUTPUT is written in that dtype.
// With --repeat R the batch runs R more times after a warm-up and a JSON
// line with seconds_per_batch (median) and seconds_per_sample is printed.
// With --expect the output is compared with REF.npy (e.g. PyTorch's output):
// a JSON line gives max_relative_error (max |y - ref| / max |ref|) and the
// exit status is 1 when it exceeds --rtol (default 1e-5 for float32 models,
// 1e-12 for float64).
// Exit status: 0 on success, 1 on an error (message on stderr), 2 on misuse.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <type_traits>
#include <vector>

#include <corespec/io/npy.hpp>
#include <corespec/nn/kernels/table.hpp>
#include <corespec/nn/serialize.hpp>

#include "support/command_line.hpp"

using namespace corespec;

namespace {

struct Args {
    std::string model, input, output, expect;
    std::size_t threads = 1, repeat = 0;
    double rtol = 0.0;
};

template <class T>
int run(nn::ModelFile file, const Args& args) {
    const nn::Model<T> model = nn::build_model<T>(std::move(file.spec), file.tensors, file.source);
    io::NpyArray<T> input = io::read_npy<T>(args.input);
    if (input.shape.empty() || input.shape.size() > 3)
        throw shape_error(args.input + ": INPUT must be batch x features or batch x channels x length", {0, 0},
                          input.shape);
    std::vector<std::size_t> in_dims = input.shape;
    // A conv model's [channels, length] input may come as one row per sample.
    const auto& want = model.input_shape();
    if (!want.empty() && in_dims.size() == 2 && want.size() == 2 && in_dims[1] == want[0] * want[1])
        in_dims = {in_dims[0], want[0], want[1]};
    const nn::Shape in_shape(in_dims);
    const nn::Shape out_shape = model.output_shape(in_shape);  // throws shape_error for a wrong length
    std::vector<T> output(out_shape.size());
    ThreadPool pool(std::max<std::size_t>(args.threads, 1));  // started once, reused by every repeat
    std::vector<nn::Workspace<T>> workspaces(pool.size());     // one per thread
    const nn::ConstTensorView<T> in(input.values.data(), in_shape);
    const nn::TensorView<T> out(output.data(), out_shape);
    auto once = [&] { model.forward_parallel(in, out, span<nn::Workspace<T>>(workspaces.data(), workspaces.size()), pool); };

    once();  // the warm-up (workspaces grow here) and the result when not timing
    if (args.repeat > 0) {
        std::vector<double> seconds;
        for (std::size_t r = 0; r < args.repeat; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            once();
            seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(seconds.begin(), seconds.end());
        const std::size_t n = seconds.size();
        const double median = n % 2 ? seconds[n / 2] : 0.5 * (seconds[n / 2 - 1] + seconds[n / 2]);
        const std::size_t batch = in_shape[0];
        std::printf("{\"model\": \"%s\", \"dtype\": \"%s\", \"kernels\": \"%s\", \"batch\": %zu, \"threads\": %zu, "
                    "\"repeat\": %zu, \"seconds_per_batch\": %.9g, \"seconds_per_sample\": %.9g}\n",
                    args.model.c_str(), model.spec().dtype.c_str(), nn::kernels::kernels_name(), batch, workspaces.size(), args.repeat, median,
                    batch ? median / static_cast<double>(batch) : 0.0);
    }
    io::write_npy<T>(args.output, out_shape.to_vector(), output.data());
    if (!args.expect.empty()) {
        const io::NpyArray<double> ref = io::read_npy<double>(args.expect);
        if (ref.shape != out_shape.to_vector()) throw shape_error(args.expect + ": expected output", out_shape.to_vector(), ref.shape);
        const double err = nn::max_relative_error(span<const T>(output.data(), output.size()),
                                                  span<const double>(ref.values.data(), ref.values.size()));
        const double tol = args.rtol > 0 ? args.rtol : (std::is_same<T, float>::value ? 1e-5 : 1e-12);
        const bool ok = err <= tol;
        std::printf("{\"max_relative_error\": %.6g, \"rtol\": %.3g, \"ok\": %s, \"kernels\": \"%s\"}\n", err, tol,
                    ok ? "true" : "false", nn::kernels::kernels_name());
        return ok ? 0 : 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const corespec_example::CommandLine cli(
        argc, argv, "nn_predict MODEL INPUT.npy OUTPUT.npy [--threads N] [--repeat R] [--expect REF.npy [--rtol X]]",
        {{"--threads", 1}, {"--repeat", 1}, {"--expect", 1}, {"--rtol", 1}});
    const std::vector<std::string>& positional = cli.positional(3, 3);
    Args args;
    args.model = positional[0];
    args.input = positional[1];
    args.output = positional[2];
    args.threads = cli.count("--threads", 1, 1, 256);
    args.repeat = cli.count("--repeat", 0, 0, 1000000);
    args.expect = cli.text("--expect");
    args.rtol = cli.number("--rtol", 0, 0);
    if (cli.has("--rtol") && !(args.rtol > 0)) cli.fail("--rtol must be positive");
    try {
        nn::kernels::kernels_name();  // a bad CORESPEC_KERNELS fails here, before any work
        nn::ModelFile file = nn::read_model_file(args.model);
        if (file.spec.dtype == "float32") return run<float>(std::move(file), args);
        return run<double>(std::move(file), args);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nn_predict: %s\n", e.what());
        return 1;
    }
}
