// The audit log: one line per security event, in the server log, marked
// "audit" so it can be filtered, e.g.
//   audit event=login_failed reason=unknown_api_key client=127.0.0.1 request_id=...
// Secrets never appear in it.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace berth::auth {

using AuditField = std::pair<std::string_view, std::string_view>;

// Logs `event` with its fields; fields with empty values are left out.
void audit(std::string_view event, std::initializer_list<AuditField> fields);

}  // namespace berth::auth
