// The runtime choice of kernels (see corespec/nn/kernels/dispatch.hpp),
// compiled with the baseline flags by corespec_add_kernels. Which
// architecture units were compiled beside it is told by
// CORESPEC_KERNELS_WITH_SSE2 / _AVX2 / _AVX512 / _NEON.
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include <corespec/core/error.hpp>
#include <corespec/core/kernels/spectral.hpp>
#include <corespec/nn/kernels/dispatch.hpp>

namespace corespec::nn::kernels {

namespace {

struct Choice {
    const char* label;
    bool runs;  // this CPU has the instructions
    const KernelTable<float>* f32;
    const KernelTable<double>* f64;
};

template <class Arch>
Choice choice(bool runs) {
    // Only touch a unit whose instructions this CPU has.
    return {arch_label<Arch>(), runs, runs ? &ArchKernels<float, Arch>::get() : nullptr,
            runs ? &ArchKernels<double, Arch>::get() : nullptr};
}

// Every compiled architecture, best first; scalar (compiled here) last.
const std::vector<Choice>& compiled() {
    static const std::vector<Choice> all = [] {
        const auto cpu = xsimd::available_architectures();
        (void)cpu;
        std::vector<Choice> c;
#if defined(CORESPEC_KERNELS_WITH_AVX512)
        c.push_back(choice<xsimd::avx512bw>(cpu.avx512f && cpu.avx512cd && cpu.avx512dq && cpu.avx512bw));
#endif
#if defined(CORESPEC_KERNELS_WITH_AVX2)
        c.push_back(choice<xsimd::fma3<xsimd::avx2>>(cpu.fma3_avx2));
#endif
#if defined(CORESPEC_KERNELS_WITH_SSE2)
        c.push_back(choice<xsimd::sse2>(cpu.sse2));
#endif
#if defined(CORESPEC_KERNELS_WITH_NEON)
        c.push_back(choice<xsimd::neon64>(cpu.neon64));
#endif
        c.push_back({"scalar", true, &table<float, scalar_arch>(), &table<double, scalar_arch>()});
        return c;
    }();
    return all;
}

template <class T>
const KernelTable<T>& table_of(const Choice& c) {
    if constexpr (std::is_same<T, float>::value) return *c.f32;
    else return *c.f64;
}

std::string known_labels() {
    std::string s;
    for (const Choice& c : compiled())
        if (c.runs) s += (s.empty() ? "" : ", ") + std::string(c.label);
    return s;
}

const Choice& find(const std::string& label) {
    for (const Choice& c : compiled())
        if (label == c.label) {
            if (!c.runs)
                throw value_error("corespec kernels: '" + label + "' is compiled in but this CPU lacks its instructions; it runs: " +
                                  known_labels());
            return c;
        }
    throw value_error("corespec kernels: unknown architecture '" + label + "'; this binary and CPU run: " + known_labels());
}

const Choice& chosen() {
    // Chosen once; a bad CORESPEC_KERNELS throws here, on every call.
    static const Choice& c = find(resolve_kernels(std::getenv("CORESPEC_KERNELS")));
    return c;
}

}  // namespace

std::vector<std::string> runtime_architectures() {
    std::vector<std::string> labels;
    for (const Choice& c : compiled())
        if (c.runs) labels.emplace_back(c.label);
    return labels;
}

std::string resolve_kernels(const char* request) {
    if (request == nullptr || *request == '\0') return runtime_architectures().front();
    try {
        return find(request).label;
    } catch (const value_error& e) {
        throw value_error(std::string("CORESPEC_KERNELS=") + request + ": " + e.what());
    }
}

template <class T>
const KernelTable<T>& runtime_table(const std::string& label) {
    return table_of<T>(find(label));
}
template <class T>
const KernelTable<T>& runtime_table() {
    return table_of<T>(chosen());
}
template const KernelTable<float>& runtime_table<float>(const std::string&);
template const KernelTable<double>& runtime_table<double>(const std::string&);
template const KernelTable<float>& runtime_table<float>();
template const KernelTable<double>& runtime_table<double>();

const char* runtime_kernels_name() { return chosen().label; }

}  // namespace corespec::nn::kernels

// The spectral kernels (prep/ and align/ hot loops, core/kernels/spectral.hpp):
// the same choice and labels as the nn kernels above.
namespace corespec::kernels {

namespace {
const SpectralKernels& spectral_of(const std::string& label) {
#if defined(CORESPEC_KERNELS_WITH_AVX512)
    if (label == "avx512") return SpectralArch<xsimd::avx512bw>::get();
#endif
#if defined(CORESPEC_KERNELS_WITH_AVX2)
    if (label == "avx2") return SpectralArch<xsimd::fma3<xsimd::avx2>>::get();
#endif
#if defined(CORESPEC_KERNELS_WITH_SSE2)
    if (label == "sse2") return SpectralArch<xsimd::sse2>::get();
#endif
#if defined(CORESPEC_KERNELS_WITH_NEON)
    if (label == "neon") return SpectralArch<xsimd::neon64>::get();
#endif
    return spectral_table<scalar_arch>();
}
}  // namespace

const SpectralKernels& runtime_spectral_table(const std::string& label) {
    return spectral_of(nn::kernels::find(label).label);  // find: the CPU check and its message
}

const SpectralKernels& runtime_spectral_table() {
    static const SpectralKernels& t = spectral_of(nn::kernels::runtime_kernels_name());
    return t;
}

}  // namespace corespec::kernels
