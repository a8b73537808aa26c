#include "adamconf/bounded_json.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace adamconf {

namespace {

std::string position(const std::string& text, std::size_t byte) {
  std::size_t line = 1, column = 1;
  for (std::size_t k = 0; k < byte && k < text.size(); ++k) {
    if (text[k] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

/// The first byte at which arrays and objects nest deeper than `max_depth`, or npos.
std::size_t too_deep_at(const std::string& text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t k = 0; k < text.size(); ++k) {
    const char c = text[k];
    if (in_string) {
      if (c == '\\') ++k;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return k;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string::npos;
}

}  // namespace

nlohmann::json parse_bounded_json(const std::string& text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes)
    throw JsonTextError("JSON larger than the " + std::to_string(limits.max_bytes >> 20) + " MiB adamconf reads", "");
  const std::size_t deep = too_deep_at(text, limits.max_depth);
  if (deep != std::string::npos)
    throw JsonTextError("JSON nested more than " + std::to_string(limits.max_depth) + " levels deep", position(text, deep));
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based: the byte where parsing stopped
    throw JsonTextError("not valid JSON", position(text, e.byte > 0 ? e.byte - 1 : 0));
  } catch (const nlohmann::json::out_of_range&) {
    // 406: a number beyond double's range, e.g. 1e999
    throw JsonTextError("JSON with a number beyond the range of float64 (write \"inf\" for infinity)", "");
  } catch (const nlohmann::json::exception& e) {
    throw JsonTextError(std::string("not valid JSON (") + excerpt(std::string(e.what()), 80) + ")", "");
  }
}

std::string read_bounded_file(const std::string& path, std::size_t max_bytes) {
  auto fail = [&](const std::string& why) -> std::string { throw std::runtime_error(path + ": " + why); };
  if (path.empty()) fail("an empty file name");
  // O_NONBLOCK: opening a FIFO with no writer must not block; it is rejected below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fail(std::string("cannot open (") + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(S_ISDIR(st.st_mode) ? "is a directory, not a file" : "is not a regular file");
  }
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return fail("is larger than the " + std::to_string(max_bytes >> 20) + " MiB adamconf reads");
  }
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return fail(std::string("cannot read (") + std::strerror(error) + ")");
    }
    if (n == 0) break;  // shrank while read
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(done);
  return text;
}

std::string excerpt(const nlohmann::json& value, std::size_t limit) {
  // Depth is bounded by parse_bounded_json, so dump() cannot recurse far; a
  // long string or array is dumped once and cut.
  if (value.is_string()) return "\"" + excerpt(value.get_ref<const std::string&>(), limit) + "\"";
  if (value.is_array() && value.size() > limit) return "[" + std::to_string(value.size()) + " entries]";
  if (value.is_object() && value.size() > limit) return "{" + std::to_string(value.size()) + " members}";
  return excerpt(value.dump(), limit);
}

}  // namespace adamconf
