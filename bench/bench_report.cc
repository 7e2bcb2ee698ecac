// Reporting with the contract's names: Google Benchmark appends "/real_time", "/manual_time"
// and "/min_time:X" to a row's name when those options are set; the reporters here print the
// names as registered (gemm/<impl>/<M>x<N>x<K>/t<n> ...), and filters and --benchmark_list_tests
// see the same names.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "bench_common.h"

namespace tfb {

std::vector<std::string> &registered_names()
{
    static std::vector<std::string> v;
    return v;
}

namespace {

// Forwards to `inner` with the suffixes removed from every run's name.
class CleanNames : public benchmark::BenchmarkReporter {
public:
    explicit CleanNames(benchmark::BenchmarkReporter *inner) : inner_(inner) {}
    bool ReportContext(const Context &c) override
    {
        inner_->SetOutputStream(&GetOutputStream()); // set on us by the runner (file output)
        inner_->SetErrorStream(&GetErrorStream());
        return inner_->ReportContext(c);
    }
    void ReportRuns(const std::vector<Run> &runs) override
    {
        std::vector<Run> clean(runs);
        for (Run &r : clean) {
            r.run_name.min_time.clear();
            r.run_name.time_type.clear();
        }
        inner_->ReportRuns(clean);
    }
    void Finalize() override { inner_->Finalize(); }

private:
    std::unique_ptr<benchmark::BenchmarkReporter> inner_;
};

} // namespace

// A flag's value from argv ("--name=value"; a bare "--name" is "true"), else from the
// environment variable Google Benchmark reads for it (BENCHMARK_NAME), else `fallback`.
std::string gb_flag(const std::vector<std::string> &argv, const std::string &name,
                 const std::string &fallback)
{
    std::string found;
    bool have = false;
    for (const std::string &a : argv) {
        if (a == "--" + name)
            found = "true", have = true;
        else if (a.rfind("--" + name + "=", 0) == 0)
            found = a.substr(name.size() + 3), have = true;
    }
    if (have)
        return found;
    std::string env = name;
    for (char &ch : env)
        ch = (char)std::toupper((unsigned char)ch);
    const char *e = std::getenv(env.c_str());
    return e ? e : fallback;
}

bool flag_truthy(const std::string &v)
{
    if (v.empty())
        return false;
    std::string l;
    for (char ch : v)
        l += (char)std::tolower((unsigned char)ch);
    return !(l == "0" || l == "false" || l == "no" || l == "n" || l == "off" || l == "f");
}

int run_benchmarks(const std::vector<std::string> &argv_before_init)
{
    // Anchored filters ("...t1$") must still match once the suffixes are appended.
    std::string filter = benchmark::GetBenchmarkFilter();
    if (filter.empty() || filter == "all")
        filter = ".";
    const bool negative = filter[0] == '-';
    std::string re = negative ? filter.substr(1) : filter;
    std::string gb_re;
    for (size_t i = 0; i < re.size(); i++) {
        if (re[i] == '$' && (i == 0 || re[i - 1] != '\\'))
            gb_re += "(/(min_time:[0-9.]+|real_time|manual_time))*";
        gb_re += re[i];
    }
    benchmark::SetBenchmarkFilter((negative ? "-" : "") + gb_re);

    if (flag_truthy(gb_flag(argv_before_init, "benchmark_list_tests", "false"))) {
        std::regex rx(re, std::regex::extended);
        for (const std::string &n : registered_names())
            if (std::regex_search(n, rx) != negative)
                std::printf("%s\n", n.c_str());
        return 0;
    }

    CleanNames display(benchmark::CreateDefaultDisplayReporter());
    std::unique_ptr<CleanNames> file;
    if (!gb_flag(argv_before_init, "benchmark_out", "").empty()) {
        std::string fmt = gb_flag(argv_before_init, "benchmark_out_format", "json");
        benchmark::BenchmarkReporter *inner;
        if (fmt == "console") {
            inner = new benchmark::ConsoleReporter(benchmark::ConsoleReporter::OO_None);
        } else if (fmt == "csv") {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
            inner = new benchmark::CSVReporter();
#pragma GCC diagnostic pop
        } else {
            inner = new benchmark::JSONReporter();
        }
        file.reset(new CleanNames(inner));
    }
    benchmark::RunSpecifiedBenchmarks(&display, file.get());
    return 0;
}

} // namespace tfb
