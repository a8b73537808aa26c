// Where an installed adamconf keeps its data: PREFIX/share/adamconf beside PREFIX/bin/adamconf.
#pragma once

#include <optional>
#include <string>

namespace adamconf::cli {

/// PREFIX/share/adamconf/<relative> for the running command, if it exists.
std::optional<std::string> installed_data(const std::string& relative);

}  // namespace adamconf::cli
