// Quoting untrusted text in a one-line message.
#pragma once

#include <cstddef>
#include <string>

namespace adamconf {

/// At most `limit` characters of `text` for a one-line message: control
/// characters shown as '?', and "... (N characters)" when cut.
std::string excerpt(const std::string& text, std::size_t limit = 60);

}  // namespace adamconf
