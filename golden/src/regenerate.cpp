// adamconf golden regenerate / verify: all files from the catalogue, written
// atomically; verify says which committed file differs, where, and how.

#include <cctype>
#include <cerrno>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include <mpfr.h>

#include "adamconf/atomic_file.hpp"
#include "adamconf/bounded_json.hpp"
#include "adamconf/golden.hpp"

namespace adamconf::golden {

namespace fs = std::filesystem;

namespace {

/// Renders every catalogue entry on all cores, in catalogue order.
std::vector<std::string> render_all(const std::vector<GoldenSpec>& specs,
                                    const std::function<void(std::size_t, std::size_t, const std::string&)>& progress) {
  std::vector<std::string> texts(specs.size());
  std::atomic<std::size_t> next{0}, done{0};
  std::mutex report;
  std::exception_ptr failure;
  auto worker = [&] {
    for (std::size_t k; (k = next++) < specs.size();) {
      try {
        texts[k] = render(specs[k]);
      } catch (const std::logic_error& e) {  // name the file the catalogue got wrong
        std::lock_guard lock(report);
        failure = std::make_exception_ptr(std::logic_error(specs[k].relative_path() + ": " + e.what()));
      } catch (...) {
        std::lock_guard lock(report);
        failure = std::current_exception();
      }
      std::lock_guard lock(report);
      if (progress) progress(++done, specs.size(), specs[k].name());
    }
  };
  std::vector<std::thread> threads;
  const unsigned n = std::max(1u, std::thread::hardware_concurrency());
  // Each worker frees MPFR's per-thread caches (constants such as log 2 that exp and log fill) as it ends.
  for (unsigned i = 0; i < n; ++i) threads.emplace_back([&] {
    worker();
    mpfr_free_cache();
  });
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
  return texts;
}

std::set<std::string> json_files_under(const std::string& dir) {
  std::set<std::string> files;
  if (!fs::exists(dir)) return files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".json")
      files.insert(fs::relative(e.path(), dir).generic_string());
  return files;
}

/// Temporary files an interrupted write left under `dir` (relative paths).
std::set<std::string> temporaries_under(const std::string& dir) {
  std::set<std::string> files;
  if (!fs::exists(dir)) return files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (!e.is_directory() && is_temporary_name(e.path().filename().string()) &&
        e.path().filename().string().find(".json.tmp.") != std::string::npos)
      files.insert(fs::relative(e.path(), dir).generic_string());
  return files;
}

/// A path from an index: relative, inside the directory, a .json file.
bool is_safe_relative_json(const std::string& relative) {
  const fs::path p(relative);
  if (relative.empty() || p.is_absolute() || p.extension() != ".json") return false;
  for (const auto& part : p)
    if (part == ".." || part == ".") return false;
  return true;
}

/// Checks that `dir` may be written by regenerate, and returns the files its
/// previous index.json lists. Refuses a directory that has files but is not a
/// golden directory: pointed one level too high, regenerate used to delete
/// every .json file it did not expect.
std::set<std::string> previous_index_files(const std::string& dir) {
  if (dir.empty()) throw std::invalid_argument("--dir is empty: name the golden directory (golden/traces)");
  std::error_code ec;
  if (!fs::exists(dir, ec)) return {};
  if (!fs::is_directory(dir, ec)) throw std::invalid_argument(dir + ": is not a directory");
  if (fs::is_empty(dir, ec)) return {};
  const fs::path index = fs::path(dir) / "index.json";
  const std::string refuse = dir + ": not a golden directory (";
  const std::string advice = "); refusing to write or remove anything there: point --dir at golden/traces, or at a new or empty directory";
  if (!fs::exists(index, ec)) throw std::invalid_argument(refuse + "it has files but no index.json" + advice);
  nlohmann::json j;
  try {
    j = parse_bounded_json(read_bounded_file(index.string()));
  } catch (const std::exception& e) {
    throw std::invalid_argument(refuse + "its index.json cannot be read: " + e.what() + advice);
  }
  if (!j.is_object() || !j.contains("format") || j.at("format") != "adamconf-golden-index/1" || !j.contains("files") ||
      !j.at("files").is_array())
    throw std::invalid_argument(refuse + "its index.json is not an adamconf-golden-index/1 file" + advice);
  std::set<std::string> files;
  for (const auto& f : j.at("files"))
    if (f.is_object() && f.contains("file") && f.at("file").is_string() &&
        is_safe_relative_json(f.at("file").get<std::string>()))
      files.insert(f.at("file").get<std::string>());
  return files;
}

/// The path of the first difference between two JSON texts, e.g. "trace[4].theta[2]".
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& path,
                             std::string& left, std::string& right) {
  if (a.type() != b.type() || (!a.is_object() && !a.is_array() && a != b)) {
    left = excerpt(a);
    right = excerpt(b);
    return path;
  }
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string p = path.empty() ? it.key() : path + "." + it.key();
      if (!b.contains(it.key())) {
        left = excerpt(it.value());
        right = "(missing)";
        return p;
      }
      const std::string d = first_difference(it.value(), b.at(it.key()), p, left, right);
      if (!d.empty()) return d;
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key())) {
        left = "(missing)";
        right = excerpt(it.value());
        return path.empty() ? it.key() : path + "." + it.key();
      }
  }
  if (a.is_array()) {
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
      const std::string d = first_difference(a[i], b[i], path + "[" + std::to_string(i) + "]", left, right);
      if (!d.empty()) return d;
    }
    if (a.size() != b.size()) {
      left = std::to_string(a.size()) + " entries";
      right = std::to_string(b.size()) + " entries";
      return path;
    }
  }
  return "";
}

std::string describe_difference(const std::string& file, const std::string& committed, const std::string& fresh) {
  std::size_t line = 1;
  std::size_t k = 0;
  for (; k < std::min(committed.size(), fresh.size()) && committed[k] == fresh[k]; ++k)
    if (committed[k] == '\n') ++line;
  std::string where = file + ":" + std::to_string(line) + ": ";
  try {
    std::string left, right;
    const std::string field = first_difference(parse_bounded_json(committed), parse_bounded_json(fresh), "", left, right);
    if (field.empty()) return where + "same values, different text (formatting)";
    return where + field + ": committed " + excerpt(left) + ", the reference now gives " + excerpt(right);
  } catch (const JsonTextError& e) {
    return where + "the committed file cannot be read as JSON (" + e.what() + (e.where.empty() ? "" : " at " + e.where) + ")";
  }
}

}  // namespace

RegenerateReport regenerate(const std::string& dir,
                            const std::function<void(std::size_t, std::size_t, const std::string&)>& progress) {
  const std::set<std::string> previous = previous_index_files(dir);  // refuses a foreign directory first
  const auto specs = catalogue();
  const auto texts = render_all(specs, progress);  // all in memory first: nothing is written if one fails
  RegenerateReport report;
  // Temporaries of an interrupted (killed) earlier run: nothing else makes these names.
  for (const auto& f : temporaries_under(dir)) {
    std::error_code ec;
    if (fs::remove(fs::path(dir) / f, ec)) report.removed_temporaries.push_back(f);
  }
  std::set<std::string> expected{"index.json"};
  for (const auto& spec : specs) expected.insert(spec.relative_path());
  // The index is written first, listing both the previous files and the new
  // ones: a run killed part-way leaves a directory the next run recognises
  // (and whose stale files it still knows), never one with files and no index.
  {
    nlohmann::json claim;
    claim["format"] = "adamconf-golden-index/1";
    claim["incomplete"] = "a regenerate in progress or interrupted; run adamconf golden regenerate";
    nlohmann::json files = nlohmann::json::array();
    std::set<std::string> all = previous;
    all.insert(expected.begin(), expected.end());
    all.erase("index.json");
    for (const auto& f : all) files.push_back({{"file", f}});
    claim["files"] = files;
    write_atomically((fs::path(dir) / "index.json").string(), claim.dump(1) + "\n");
  }
  for (std::size_t k = 0; k < specs.size(); ++k)
    write_atomically((fs::path(dir) / specs[k].relative_path()).string(), texts[k]);
  write_atomically((fs::path(dir) / "index.json").string(), render_index(specs));
  report.written = specs.size();
  // Only files the previous index listed, and the catalogue no longer has.
  for (const auto& f : previous) {
    if (expected.count(f)) continue;
    std::error_code ec;
    const fs::path p = fs::path(dir) / f;
    if (fs::is_regular_file(fs::symlink_status(p, ec)) && fs::remove(p, ec)) report.removed_stale.push_back(f);
  }
  return report;
}

VerifyReport verify(const std::string& dir,
                    const std::function<void(std::size_t, std::size_t, const std::string&)>& progress) {
  VerifyReport report;
  const auto specs = catalogue();
  const auto texts = render_all(specs, progress);
  std::set<std::string> expected{"index.json"};
  auto compare = [&](const std::string& relative, const std::string& fresh) {
    const fs::path p = fs::path(dir) / relative;
    expected.insert(relative);
    ++report.files;
    if (!fs::exists(p)) {
      report.problems.push_back(p.string() + ": missing (run adamconf golden regenerate)");
      return;
    }
    std::string committed;
    try {
      committed = read_bounded_file(p.string());
    } catch (const std::runtime_error& e) {
      report.problems.push_back(e.what());
      return;
    }
    if (committed != fresh) report.problems.push_back(describe_difference(p.string(), committed, fresh));
  };
  for (std::size_t k = 0; k < specs.size(); ++k) compare(specs[k].relative_path(), texts[k]);
  compare("index.json", render_index(specs));
  for (const auto& f : json_files_under(dir))
    if (!expected.count(f))
      report.problems.push_back((fs::path(dir) / f).string() + ": not produced by the reference (stale or foreign file)");
  for (const auto& f : temporaries_under(dir))
    report.problems.push_back((fs::path(dir) / f).string() +
                              ": a temporary file left by an interrupted write (regenerate removes it)");
  return report;
}

}  // namespace adamconf::golden
