// corespec/report/report.hpp - a report folder a person opens in a browser.
//
//   report::Report r("NMC demo");
//   r.add_heading("Scores");
//   r.add_table(metrics);                                  // a report::MetricsTable
//   r.add_figure(report::roc_svg(l, s, "O vacancy"), "ROC, held-out structures", "roc_o_vacancy");
//   r.write("out/report");
//
// write(dir) creates dir/ and dir/figures/ and writes
//   report.html      self-contained: CSS and every SVG inline, no script, no
//                    external URL, and a Content-Security-Policy that forbids
//                    every network load (default-src 'none');
//   figures/NAME.svg each figure as its own file (NAME = its file stem);
//   metrics.csv      every MetricsTable added, in order (input_set,target,metric,value);
//   metrics.md       the same rows as one Markdown table.
// All text is HTML-escaped. A bad folder or file throws io_error with the
// OS reason; a bad file stem or figure throws value_error.
#pragma once

#include <cctype>
#include <cerrno>
#include <filesystem>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "corespec/core/error.hpp"
#include "corespec/explain/svg.hpp"
#include "corespec/report/figures.hpp"
#include "corespec/report/metrics.hpp"
#include "corespec/report/metrics_table.hpp"

namespace corespec::report {

class Report {
public:
    explicit Report(std::string title = "corespec report") : title_(std::move(title)) {}

    /// A section heading, level 1-4 (h1 is the page title; 2 is a section).
    void add_heading(const std::string& text, int level = 2) {
        if (level < 1 || level > 4) throw value_error("report::Report::add_heading: level must be 1-4");
        blocks_.push_back("<h" + std::to_string(level) + '>' + escape(text) + "</h" + std::to_string(level) + ">\n");
    }

    /// A paragraph of plain text (escaped; blank lines start new paragraphs).
    void add_paragraph(const std::string& text) {
        std::string html = "<p>";
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '\n' && i + 1 < text.size() && text[i + 1] == '\n') {
                html += "</p>\n<p>";
                while (i + 1 < text.size() && text[i + 1] == '\n') ++i;
            } else {
                html += escape(std::string(1, text[i]));
            }
        }
        blocks_.push_back(html + "</p>\n");
    }

    /// A warning box (e.g. "trained on synthetic spectra").
    void add_warning(const std::string& text) { blocks_.push_back("<p class=\"warning\">" + escape(text) + "</p>\n"); }

    /// The metrics as an HTML table (input sets as columns, as
    /// MetricsTable::markdown); its rows also go to metrics.csv / metrics.md.
    void add_table(const MetricsTable& table, const std::string& caption = "") {
        for (const auto& r : table.rows()) metrics_.add(r.input_set, r.target, r.metric, r.value);
        std::vector<std::string> sets;
        std::vector<std::pair<std::string, std::string>> keys;
        for (const auto& r : table.rows()) {
            detail::index_of_or_add(sets, r.input_set);
            detail::index_of_or_add(keys, std::make_pair(r.target, r.metric));
        }
        std::vector<std::vector<std::string>> rows(keys.size());
        for (std::size_t k = 0; k < keys.size(); ++k) rows[k] = {keys[k].first, keys[k].second};
        for (auto& row : rows) row.resize(2 + sets.size(), "-");
        for (const auto& r : table.rows())
            rows[detail::index_of_or_add(keys, std::make_pair(r.target, r.metric))][2 + detail::index_of_or_add(sets, r.input_set)] =
                detail::format_value(r.value, 4);
        std::vector<std::string> header{"target", "metric"};
        header.insert(header.end(), sets.begin(), sets.end());
        add_table(header, rows, caption);
    }

    /// A table of text cells; every row must have header.size() cells
    /// (shape_error otherwise).
    void add_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows, const std::string& caption = "") {
        std::ostringstream s;
        s << "<table>\n";
        if (!caption.empty()) s << "<caption>" << escape(caption) << "</caption>\n";
        s << "<thead><tr>";
        for (const auto& h : header) s << "<th>" << escape(h) << "</th>";
        s << "</tr></thead>\n<tbody>\n";
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (rows[i].size() != header.size())
                throw shape_error("report::Report::add_table row " + std::to_string(i), {header.size()}, {rows[i].size()});
            s << "<tr>";
            for (const auto& c : rows[i]) s << "<td>" << escape(c) << "</td>";
            s << "</tr>\n";
        }
        s << "</tbody>\n</table>\n";
        blocks_.push_back(s.str());
    }

    /// A figure: `svg` (a standalone SVG document, as the functions of
    /// report/figures.hpp return) inline in the page with its caption, and
    /// written to figures/<file_stem>.svg. Throws value_error for a stem
    /// that is empty, repeated or not [A-Za-z0-9_.-] (no paths), or text
    /// that is not an SVG document or holds a script or an external link.
    void add_figure(const std::string& svg, const std::string& caption, const std::string& file_stem) {
        check_stem(file_stem);
        const std::size_t start = svg.find("<svg");
        if (start == std::string::npos || svg.find("</svg>") == std::string::npos)
            throw value_error("report::Report::add_figure '" + file_stem + "': not an SVG document");
        for (const char* bad : {"<script", "href=\"http", "href='http", "url(http", "<foreignObject"})
            if (svg.find(bad) != std::string::npos)
                throw value_error("report::Report::add_figure '" + file_stem + "': the SVG holds '" + bad +
                                  "' (a report is self-contained: no scripts, no external resources)");
        figures_.push_back({file_stem, svg});
        blocks_.push_back("<figure id=\"fig-" + file_stem + "\">\n" + svg.substr(start) + "<figcaption>" + escape(caption) +
                          " <a href=\"figures/" + file_stem + ".svg\">(SVG)</a></figcaption>\n</figure>\n");
    }

    /// The page (what write() puts in report.html).
    std::string html() const {
        std::ostringstream s;
        s << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          // No network: nothing may be fetched; inline CSS and the figures' own markup only.
          << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
             "script-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'\">\n"
          << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          << "<title>" << escape(title_) << "</title>\n<style>\n" << css() << "</style>\n</head>\n<body>\n<main>\n<h1>" << escape(title_)
          << "</h1>\n";
        for (const auto& b : blocks_) s << b;
        s << "</main>\n</body>\n</html>\n";
        return s.str();
    }

    /// The rows of every MetricsTable added so far.
    const MetricsTable& metrics() const noexcept { return metrics_; }
    std::size_t figure_count() const noexcept { return figures_.size(); }

    /// Writes the folder (see the file comment). Throws io_error naming the
    /// path and the OS reason when a folder cannot be made or a file written.
    void write(const std::string& dir) const {
        namespace fs = std::filesystem;
        const fs::path root(dir), figures = fs::path(dir) / "figures";
        for (const fs::path& p : {root, figures}) {
            std::error_code ec;
            fs::create_directories(p, ec);
            if (ec) throw io_error("report::Report::write: cannot create folder '" + p.string() + "': " + ec.message());
            if (!fs::is_directory(p, ec)) throw io_error("report::Report::write: '" + p.string() + "' is not a folder");
        }
        for (const auto& f : figures_) detail::write_file((figures / (f.stem + ".svg")).string(), f.svg, "report::Report::write");
        metrics_.write_csv((root / "metrics.csv").string());
        metrics_.write_markdown((root / "metrics.md").string());
        detail::write_file((root / "report.html").string(), html(), "report::Report::write");
    }

    /// HTML / XML text escape (& < > " ').
    static std::string escape(const std::string& text) {
        std::string out = explain::detail::xml_escape(text);
        std::string with_apos;
        for (char c : out) with_apos += c == '\'' ? std::string("&#39;") : std::string(1, c);
        return with_apos;
    }

private:
    struct Figure {
        std::string stem, svg;
    };

    void check_stem(const std::string& stem) const {
        if (stem.empty() || stem == "." || stem == "..") throw value_error("report::Report::add_figure: empty file stem");
        for (char c : stem)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
                throw value_error("report::Report::add_figure: file stem '" + stem + "' may hold only letters, digits, '_', '-' and '.'");
        for (const auto& f : figures_)
            if (f.stem == stem) throw value_error("report::Report::add_figure: file stem '" + stem + "' is used twice");
    }

    static const char* css() {
        return "body{font-family:'DejaVu Sans',Arial,sans-serif;color:#1a1a1a;background:#fff;margin:0}\n"
               "main{max-width:1000px;margin:0 auto;padding:1em 2em 3em}\n"
               "h1{font-size:1.6em;border-bottom:2px solid #0072b2;padding-bottom:.3em}\n"
               "h2{font-size:1.25em;margin-top:1.8em}\n"
               "table{border-collapse:collapse;margin:1em 0;font-size:.9em}\n"
               "caption{text-align:left;font-style:italic;padding-bottom:.3em}\n"
               "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}\n"
               "th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}\n"
               "thead th{background:#eef4fa}\n"
               "figure{margin:1.5em 0}\n"
               "figure svg{max-width:100%;height:auto;display:block}\n"
               "figcaption{font-size:.9em;color:#444;margin-top:.3em}\n"
               ".warning{border-left:4px solid #d55e00;background:#fff4ec;padding:.6em 1em}\n";
    }

    std::string title_;
    std::vector<std::string> blocks_;
    std::vector<Figure> figures_;
    MetricsTable metrics_;
};

}  // namespace corespec::report
