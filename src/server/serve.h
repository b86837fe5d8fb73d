#pragma once

#include "server/config.h"

namespace berth::server {

// Runs the registry until SIGTERM or SIGINT, then stops gracefully.
// Returns the process exit status.
int serve(const Config& config);

}  // namespace berth::server
