// Command-line parsing shared by the example tools. Each tool declares its
// options and how many values each takes; misuse (an unknown option, a
// missing or malformed value, a wrong number of positional arguments)
// prints the reason and the usage line and exits with status 2, so every
// tool reports misuse the same way. Errors while running are the tool's own
// (status 1 by convention). `--help` (or `-h`, unless the tool declares
// them) prints the usage line and the tool's details to stdout and exits 0.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace corespec_example {

class CommandLine {
public:
    /// `options` maps each accepted option ("--out") to its number of values
    /// (0 for a flag). A repeated option keeps its last values.
    /// `details` (options, exit status) follows the usage line in --help.
    CommandLine(int argc, char** argv, std::string usage, std::map<std::string, int> options, std::string details = {})
        : usage_(std::move(usage)), options_(std::move(options)) {
        const std::string path = argc > 0 ? argv[0] : "example";
        program_ = path.substr(path.find_last_of('/') + 1);
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if ((a == "--help" || a == "-h") && options_.count(a) == 0) {
                std::printf("usage: %s\n%s", usage_.c_str(), details.c_str());
                if (!details.empty() && details.back() != '\n') std::printf("\n");
                std::exit(0);
            }
            if (a.size() < 2 || a[0] != '-') {
                positional_.push_back(a);
                continue;
            }
            const auto known = options_.find(a);
            if (known == options_.end()) fail("unknown option " + a);
            if (i + known->second >= argc) fail(a + " needs " + std::to_string(known->second) + " value(s)");
            std::vector<std::string>& v = given_[a];
            v.assign(argv + i + 1, argv + i + 1 + known->second);
            i += known->second;
        }
    }

    /// Prints why and the usage line to stderr and exits with status 2.
    [[noreturn]] void fail(const std::string& why) const {
        std::fprintf(stderr, "%s: %s\nusage: %s\n", program_.c_str(), why.c_str(), usage_.c_str());
        std::exit(2);
    }

    /// Fails unless there are between `min` and `max` positional arguments.
    const std::vector<std::string>& positional(std::size_t min, std::size_t max) const {
        if (positional_.size() < min) fail(positional_.empty() ? "missing arguments" : "too few arguments");
        if (positional_.size() > max) fail("unexpected argument '" + positional_[max] + "'");
        return positional_;
    }

    bool has(const std::string& option) const { return given_.count(option) != 0; }

    /// The option's k-th value, or `fallback` when the option was not given.
    std::string text(const std::string& option, std::string fallback = {}, std::size_t k = 0) const {
        const auto it = given_.find(option);
        return it == given_.end() ? std::move(fallback) : it->second.at(k);
    }

    /// A finite number within [min, max].
    double number(const std::string& option, double fallback, double min = -std::numeric_limits<double>::infinity(),
                  double max = std::numeric_limits<double>::infinity()) const {
        if (!has(option)) return fallback;
        const double v = parse_number(option, text(option));
        if (v < min || v > max)
            fail(option + " must lie in [" + shortest(min) + ", " + shortest(max) + "], not " + text(option));
        return v;
    }

    /// All values of an option that takes several numbers (empty when not given).
    std::vector<double> numbers(const std::string& option) const {
        std::vector<double> v;
        if (has(option))
            for (const std::string& t : given_.at(option)) v.push_back(parse_number(option, t));
        return v;
    }

    /// A whole number within [min, max].
    std::size_t count(const std::string& option, std::size_t fallback, std::size_t min = 0,
                      std::size_t max = 1000000000) const {
        if (!has(option)) return fallback;
        const std::string t = text(option);
        char* end = nullptr;
        const unsigned long long v = std::strtoull(t.c_str(), &end, 10);
        if (t.empty() || t[0] == '-' || *end != '\0' || v < min || v > max)
            fail(option + " must be a whole number in [" + std::to_string(min) + ", " + std::to_string(max) + "], not '" +
                 t + "'");
        return static_cast<std::size_t>(v);
    }

    /// One of the named choices.
    template <class T>
    T choice(const std::string& option, const std::map<std::string, T>& choices, T fallback) const {
        if (!has(option)) return fallback;
        const std::string t = text(option);
        const auto it = choices.find(t);
        if (it != choices.end()) return it->second;
        std::string names;
        for (const auto& c : choices) names += (names.empty() ? "" : ", ") + c.first;
        fail(option + " must be one of " + names + ", not '" + t + "'");
    }

private:
    static std::string shortest(double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", v);
        return buf;
    }

    double parse_number(const std::string& option, const std::string& t) const {
        char* end = nullptr;
        const double v = std::strtod(t.c_str(), &end);
        if (t.empty() || *end != '\0' || !std::isfinite(v)) fail("bad number for " + option + ": '" + t + "'");
        return v;
    }

    std::string program_, usage_;
    std::map<std::string, int> options_;
    std::map<std::string, std::vector<std::string>> given_;
    std::vector<std::string> positional_;
};

}  // namespace corespec_example
