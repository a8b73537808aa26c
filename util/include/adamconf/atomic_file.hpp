// Writing a file so that a failure never leaves it half-written: reports,
// golden files, tables spliced into a README.
#pragma once

#include <string>

namespace adamconf {

/// Writes `text` to `path` via a temporary file (mkstemp, TARGET.tmp.XXXXXX,
/// never following a planted symlink) and a rename, so that a failure never
/// leaves a half-written file. Creates missing directories. Throws
/// std::runtime_error naming the path.
void write_atomically(const std::string& path, const std::string& text);
/// Whether a file name is one of write_atomically's temporaries.
bool is_temporary_name(const std::string& file_name);

}  // namespace adamconf
