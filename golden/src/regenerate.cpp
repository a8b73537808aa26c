// adamconf golden regenerate / verify: all files from the catalogue, written
// atomically; verify says which committed file differs, where, and how.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "adamconf/golden.hpp"

namespace adamconf::golden {

namespace fs = std::filesystem;

void write_atomically(const std::string& path, const std::string& text) {
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const fs::path temporary = target.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(temporary.string() + ": cannot write");
    out << text;
    out.flush();
    if (!out) {
      out.close();
      fs::remove(temporary);
      throw std::runtime_error(temporary.string() + ": write failed");
    }
  }
  std::error_code failed;
  fs::rename(temporary, target, failed);  // atomic within a file system
  if (failed) {
    fs::remove(temporary);
    throw std::runtime_error(path + ": cannot replace (" + failed.message() + ")");
  }
}

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
  for (unsigned i = 0; i < n; ++i) threads.emplace_back(worker);
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

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The path of the first difference between two JSON texts, e.g. "trace[4].theta[2]".
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& path,
                             std::string& left, std::string& right) {
  if (a.type() != b.type() || (!a.is_object() && !a.is_array() && a != b)) {
    left = a.dump();
    right = b.dump();
    return path;
  }
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string p = path.empty() ? it.key() : path + "." + it.key();
      if (!b.contains(it.key())) {
        left = it.value().dump().substr(0, 60);
        right = "(missing)";
        return p;
      }
      const std::string d = first_difference(it.value(), b.at(it.key()), p, left, right);
      if (!d.empty()) return d;
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key())) {
        left = "(missing)";
        right = it.value().dump().substr(0, 60);
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
    const std::string field = first_difference(nlohmann::json::parse(committed), nlohmann::json::parse(fresh), "", left, right);
    if (field.empty()) return where + "same values, different text (formatting)";
    return where + field + ": committed " + left + ", the reference now gives " + right;
  } catch (const nlohmann::json::parse_error&) {
    return where + "the committed file is not valid JSON";
  }
}

}  // namespace

std::size_t regenerate(const std::string& dir,
                       const std::function<void(std::size_t, std::size_t, const std::string&)>& progress) {
  const auto specs = catalogue();
  const auto texts = render_all(specs, progress);  // all in memory first: nothing is written if one fails
  std::set<std::string> expected{"index.json"};
  for (std::size_t k = 0; k < specs.size(); ++k) {
    write_atomically((fs::path(dir) / specs[k].relative_path()).string(), texts[k]);
    expected.insert(specs[k].relative_path());
  }
  write_atomically((fs::path(dir) / "index.json").string(), render_index(specs));
  for (const auto& f : json_files_under(dir))
    if (!expected.count(f)) fs::remove(fs::path(dir) / f);
  return specs.size();
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
    const std::string committed = read(p);
    if (committed != fresh) report.problems.push_back(describe_difference(p.string(), committed, fresh));
  };
  for (std::size_t k = 0; k < specs.size(); ++k) compare(specs[k].relative_path(), texts[k]);
  compare("index.json", render_index(specs));
  for (const auto& f : json_files_under(dir))
    if (!expected.count(f))
      report.problems.push_back((fs::path(dir) / f).string() + ": not produced by the reference (stale or foreign file)");
  return report;
}

}  // namespace adamconf::golden
