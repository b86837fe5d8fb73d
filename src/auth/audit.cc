#include "auth/audit.h"

#include "core/logging.h"

namespace berth::auth {

void audit(std::string_view event, std::initializer_list<AuditField> fields) {
  std::string line = "audit event=";
  line += event;
  for (const auto& [name, value] : fields) {
    if (value.empty()) continue;
    line += ' ';
    line += name;
    line += '=';
    line += core::log_value(value);
  }
  spdlog::info("{}", line);
}

}  // namespace berth::auth
