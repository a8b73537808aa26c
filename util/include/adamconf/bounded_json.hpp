// Reading untrusted JSON (golden files, results files, adapter lines) within
// limits on size and nesting depth, with every failure a one-line message.
// Without the limits a 100 000-level nest crashed (recursion in dump) and
// 100 MB of '[' took 7.7 GB to reject.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>

#include "adamconf/excerpt.hpp"

namespace adamconf {

struct JsonLimits {
  std::size_t max_bytes = std::size_t{256} << 20;  ///< 256 MiB
  std::size_t max_depth = 32;                      ///< nested arrays and objects
};

/// JSON text that could not be read: what is wrong, and where ("3:17" when known).
struct JsonTextError : std::runtime_error {
  JsonTextError(const std::string& what, std::string where) : std::runtime_error(what), where(std::move(where)) {}
  std::string where;  ///< "line:column", or "" when not tied to a position
};

/// Parses `text` after checking its size and nesting depth (one linear scan).
/// Numbers beyond double's range are an error, not a crash or inf. Throws
/// JsonTextError.
nlohmann::json parse_bounded_json(const std::string& text, const JsonLimits& limits = {});

/// The contents of a regular file of at most `max_bytes`; throws
/// std::runtime_error("PATH: why") for a missing, unreadable, non-regular
/// (a FIFO, /dev/zero) or oversized file.
std::string read_bounded_file(const std::string& path, std::size_t max_bytes = JsonLimits{}.max_bytes);

/// A JSON value's text, cut as excerpt() cuts text.
std::string excerpt(const nlohmann::json& value, std::size_t limit = 60);

}  // namespace adamconf
