// The berth command: parses the command line and runs one command.
#pragma once

namespace berth::cli {

// Returns the process exit status.
int run(int argc, char** argv);

}  // namespace berth::cli
