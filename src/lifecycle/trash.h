// How long the trash keeps a deleted image before removing it for good.
#pragma once

#include <cstdint>

namespace berth::lifecycle {

inline constexpr std::int64_t kTrashRetentionDays = 30;
inline constexpr std::int64_t kTrashRetentionSeconds = kTrashRetentionDays * 86400;

}  // namespace berth::lifecycle
