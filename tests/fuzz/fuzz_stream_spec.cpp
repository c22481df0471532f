// libFuzzer target: the stream description parser (stream::StreamSpec::parse:
// options, classifier, and the recipe inside). A description that parses
// must dump and parse back to the same JSON. Malformed input must end in a
// corespec exception, nothing else.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <corespec/stream/stream.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace corespec;
    stream::StreamSpec s;
    try {
        s = stream::StreamSpec::parse(std::string(reinterpret_cast<const char*>(data), size));
    } catch (const corespec::error&) {
        return 0;
    }
    if (stream::StreamSpec::parse(s.dump()).to_json() != s.to_json()) std::abort();  // the round trip is exact
    return 0;
}
