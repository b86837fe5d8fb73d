#include "auth/roles.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace berth::auth {

namespace {

struct ActionRow {
  Action action;
  std::string_view name;
  bool reader;
  bool writer;
  bool manager;
  bool account_only;
};

// IBM Cloud Container Registry's IAM actions (service "container-registry"),
// with Berth's key management added as a Manager action on the account.
constexpr std::array kActions = {
    ActionRow{Action::kAuthGet, "container-registry.auth.get", false, false, true, true},
    ActionRow{Action::kAuthSet, "container-registry.auth.set", false, false, true, true},
    ActionRow{Action::kExemptionList, "container-registry.exemption.list", true, false, true, false},
    ActionRow{Action::kExemptionManage, "container-registry.exemption.manager", false, false, true, true},
    ActionRow{Action::kIamManage, "container-registry.iam.manage", false, false, true, true},
    ActionRow{Action::kImageDelete, "container-registry.image.delete", false, true, true, false},
    ActionRow{Action::kImageInspect, "container-registry.image.inspect", true, false, true, false},
    ActionRow{Action::kImageList, "container-registry.image.list", true, false, true, false},
    ActionRow{Action::kImagePull, "container-registry.image.pull", true, true, true, false},
    ActionRow{Action::kImagePush, "container-registry.image.push", false, true, true, false},
    ActionRow{Action::kNamespaceCreate, "container-registry.namespace.create", false, false, true, true},
    ActionRow{Action::kNamespaceDelete, "container-registry.namespace.delete", false, false, true, true},
    ActionRow{Action::kNamespaceList, "container-registry.namespace.list", true, false, true, false},
    ActionRow{Action::kPlanGet, "container-registry.plan.get", false, false, true, true},
    ActionRow{Action::kPlanSet, "container-registry.plan.set", false, false, true, true},
    ActionRow{Action::kQuotaGet, "container-registry.quota.get", true, true, true, true},
    ActionRow{Action::kQuotaSet, "container-registry.quota.set", false, false, true, true},
    ActionRow{Action::kRetentionAnalyze, "container-registry.retention.analyze", true, false, true, false},
    ActionRow{Action::kRetentionGet, "container-registry.retention.get", true, false, true, false},
    ActionRow{Action::kRetentionList, "container-registry.retention.list", true, false, true, false},
    ActionRow{Action::kRetentionSet, "container-registry.retention.set", false, true, true, false},
    ActionRow{Action::kSettingsGet, "container-registry.settings.get", true, true, true, true},
    ActionRow{Action::kSettingsSet, "container-registry.settings.set", false, false, true, true},
};

constexpr std::array kAllActions = [] {
  std::array<Action, kActions.size()> actions{};
  for (std::size_t i = 0; i < kActions.size(); ++i) actions[i] = kActions[i].action;
  return actions;
}();

const ActionRow& row(Action action) {
  for (const auto& entry : kActions) {
    if (entry.action == action) return entry;
  }
  return kActions.front();  // unreachable: every enumerator has a row
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kReader:
      return "Reader";
    case Role::kWriter:
      return "Writer";
    case Role::kManager:
      return "Manager";
  }
  return "Reader";
}

std::optional<Role> parse_role(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "reader") return Role::kReader;
  if (lower == "writer") return Role::kWriter;
  if (lower == "manager") return Role::kManager;
  return std::nullopt;
}

std::string_view action_name(Action action) { return row(action).name; }

std::span<const Action> all_actions() { return kAllActions; }

bool role_allows(Role role, Action action) {
  const ActionRow& entry = row(action);
  switch (role) {
    case Role::kReader:
      return entry.reader;
    case Role::kWriter:
      return entry.writer;
    case Role::kManager:
      return entry.manager;
  }
  return false;
}

bool is_account_action(Action action) { return row(action).account_only; }

}  // namespace berth::auth
