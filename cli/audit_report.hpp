// What `adamconf audit` found, rendered as `check`'s reports are: text for a
// person, JUnit XML for CI (one test case per tensor), HTML; the JSON is the
// audit library's (audit::to_json), which `audit merge` reads back.
#pragma once

#include <string>

#include "adamconf/audit.hpp"

namespace adamconf::cli {

std::string render_audit_text(const audit::AuditReport& report, bool all_tensors);
std::string render_audit_junit(const audit::AuditReport& report);
std::string render_audit_html(const audit::AuditReport& report);

}  // namespace adamconf::cli
