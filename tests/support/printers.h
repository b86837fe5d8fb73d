// GoogleTest printers for Berth types, so failed assertions show digests as
// text instead of raw object bytes. GoogleTest finds PrintTo by
// argument-dependent lookup, so it must be in the namespace of the type.
#pragma once

#include "core/digest.h"

#include <ostream>

namespace berth::core {

inline void PrintTo(const Digest& digest, std::ostream* out) { *out << digest.str(); }

}  // namespace berth::core
