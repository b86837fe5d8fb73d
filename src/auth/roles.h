// The service roles and the actions each one allows: the one table that
// every authorization decision reads. docs/iam.md shows the same table.
//
// The table follows IBM Cloud Container Registry's IAM actions, where the
// roles do not nest: a Writer may push and delete but not list images, so
// people who push usually hold Reader and Writer together.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace berth::auth {

enum class Role { kReader, kWriter, kManager };

enum class Action {
  kAuthGet,
  kAuthSet,
  kExemptionList,
  kExemptionManage,
  kIamManage,  // API keys, service IDs and policies of the account
  kImageDelete,
  kImageInspect,
  kImageList,
  kImagePull,
  kImagePush,
  kNamespaceCreate,
  kNamespaceDelete,
  kNamespaceList,
  kPlanGet,
  kPlanSet,
  kQuotaGet,
  kQuotaSet,
  kRetentionAnalyze,
  kRetentionGet,
  kRetentionList,
  kRetentionSet,
  kSettingsGet,
  kSettingsSet,
};

// "Reader", "Writer" or "Manager"; parse_role ignores case.
std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view text);

// The IAM action name, such as "container-registry.image.pull".
std::string_view action_name(Action action);
std::span<const Action> all_actions();

bool role_allows(Role role, Action action);

// Actions that configure the account: only a policy on the whole account
// grants them, never one on a namespace.
bool is_account_action(Action action);

}  // namespace berth::auth
