// libFuzzer target: safetensors parsing, tensor conversion, and the model
// loader on top (architecture from __metadata__, tensors, self-test).
#include <cstddef>
#include <cstdint>

#include <corespec/nn/safetensors.hpp>
#include <corespec/nn/serialize.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto st = corespec::nn::SafeTensors::parse(data, size, "fuzz");
        std::size_t total = 0;
        for (const auto& name : st.names()) total += st.at(name).to_vector<double>().size();
        (void)total;
        (void)st.serialize();
        (void)corespec::nn::load_model_from_memory<float>(data, size, "fuzz");
    } catch (const corespec::error&) {
        // Malformed input must end in a corespec exception, nothing else.
    }
    return 0;
}
