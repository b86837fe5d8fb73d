// The role × action table of auth/roles.h, written out here a second time
// so that a change to either copy fails a test.
#include "auth/roles.h"

#include <gmock/gmock.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace berth::auth {
namespace {

struct ExpectedAction {
  Action action;
  std::string_view name;
  bool reader;
  bool writer;
  bool manager;
  bool account_only;
};

// One row per enumerator of Action, in declaration order. The flags are
// whether Reader, Writer and Manager allow the action, and whether only an
// account-wide policy grants it.
constexpr ExpectedAction kExpectedActions[] = {
    {Action::kAuthGet, "container-registry.auth.get", false, false, true, true},
    {Action::kAuthSet, "container-registry.auth.set", false, false, true, true},
    {Action::kExemptionList, "container-registry.exemption.list", true, false, true, false},
    {Action::kExemptionManage, "container-registry.exemption.manager", false, false, true, true},
    {Action::kIamManage, "container-registry.iam.manage", false, false, true, true},
    {Action::kImageDelete, "container-registry.image.delete", false, true, true, false},
    {Action::kImageInspect, "container-registry.image.inspect", true, false, true, false},
    {Action::kImageList, "container-registry.image.list", true, false, true, false},
    {Action::kImagePull, "container-registry.image.pull", true, true, true, false},
    {Action::kImagePush, "container-registry.image.push", false, true, true, false},
    {Action::kNamespaceCreate, "container-registry.namespace.create", false, false, true, true},
    {Action::kNamespaceDelete, "container-registry.namespace.delete", false, false, true, true},
    {Action::kNamespaceList, "container-registry.namespace.list", true, false, true, false},
    {Action::kPlanGet, "container-registry.plan.get", false, false, true, true},
    {Action::kPlanSet, "container-registry.plan.set", false, false, true, true},
    {Action::kQuotaGet, "container-registry.quota.get", true, true, true, true},
    {Action::kQuotaSet, "container-registry.quota.set", false, false, true, true},
    {Action::kRetentionAnalyze, "container-registry.retention.analyze", true, false, true, false},
    {Action::kRetentionGet, "container-registry.retention.get", true, false, true, false},
    {Action::kRetentionList, "container-registry.retention.list", true, false, true, false},
    {Action::kRetentionSet, "container-registry.retention.set", false, true, true, false},
    {Action::kSettingsGet, "container-registry.settings.get", true, true, true, true},
    {Action::kSettingsSet, "container-registry.settings.set", false, false, true, true},
};

constexpr std::size_t kActionCount = static_cast<std::size_t>(Action::kSettingsSet) + 1;

TEST(RoleActions, TableCoversEveryAction) {
  ASSERT_EQ(std::size(kExpectedActions), kActionCount);
  for (std::size_t i = 0; i < kActionCount; ++i) {
    EXPECT_EQ(kExpectedActions[i].action, static_cast<Action>(i)) << "row " << i << " is out of order";
  }
}

TEST(RoleActions, AllActionsListsEachOnce) {
  std::set<Action> listed;
  for (Action action : all_actions()) {
    EXPECT_TRUE(listed.insert(action).second) << action_name(action) << " is listed twice";
  }
  EXPECT_EQ(listed.size(), kActionCount);
  for (const auto& expected : kExpectedActions) {
    EXPECT_TRUE(listed.contains(expected.action)) << expected.name << " is missing from all_actions()";
  }
}

TEST(RoleActions, NamesDistinctAndPrefixed) {
  std::set<std::string_view> names;
  for (Action action : all_actions()) {
    std::string_view name = action_name(action);
    EXPECT_THAT(std::string(name), ::testing::StartsWith("container-registry."));
    EXPECT_GT(name.size(), std::string_view("container-registry.").size()) << "empty action name";
    EXPECT_TRUE(names.insert(name).second) << name << " names two actions";
  }
}

TEST(RoleActions, NameOfEachAction) {
  for (const auto& expected : kExpectedActions) {
    EXPECT_EQ(action_name(expected.action), expected.name);
  }
}

TEST(RoleActions, ReaderColumn) {
  for (const auto& expected : kExpectedActions) {
    EXPECT_EQ(role_allows(Role::kReader, expected.action), expected.reader) << expected.name;
  }
}

TEST(RoleActions, WriterColumn) {
  for (const auto& expected : kExpectedActions) {
    EXPECT_EQ(role_allows(Role::kWriter, expected.action), expected.writer) << expected.name;
  }
}

TEST(RoleActions, ManagerAllowsEverything) {
  for (Action action : all_actions()) {
    EXPECT_TRUE(role_allows(Role::kManager, action)) << action_name(action);
  }
}

TEST(RoleActions, ReaderAndWriterSets) {
  std::set<std::string_view> reader;
  std::set<std::string_view> writer;
  for (Action action : all_actions()) {
    if (role_allows(Role::kReader, action)) reader.insert(action_name(action));
    if (role_allows(Role::kWriter, action)) writer.insert(action_name(action));
  }

  EXPECT_THAT(reader, ::testing::ElementsAre("container-registry.exemption.list", "container-registry.image.inspect",
                                             "container-registry.image.list", "container-registry.image.pull",
                                             "container-registry.namespace.list", "container-registry.quota.get",
                                             "container-registry.retention.analyze", "container-registry.retention.get",
                                             "container-registry.retention.list", "container-registry.settings.get"));
  EXPECT_THAT(writer, ::testing::ElementsAre("container-registry.image.delete", "container-registry.image.pull",
                                             "container-registry.image.push", "container-registry.quota.get",
                                             "container-registry.retention.set", "container-registry.settings.get"));
}

TEST(RoleActions, AccountActions) {
  for (const auto& expected : kExpectedActions) {
    EXPECT_EQ(is_account_action(expected.action), expected.account_only) << expected.name;
  }
}

TEST(RoleActions, ImageActionsAreNotAccountActions) {
  EXPECT_FALSE(is_account_action(Action::kImagePull));
  EXPECT_FALSE(is_account_action(Action::kImagePush));
  EXPECT_FALSE(is_account_action(Action::kImageDelete));
}

TEST(RoleNames, NameOfEachRole) {
  EXPECT_EQ(role_name(Role::kReader), "Reader");
  EXPECT_EQ(role_name(Role::kWriter), "Writer");
  EXPECT_EQ(role_name(Role::kManager), "Manager");
}

TEST(RoleNames, ParseIgnoresCase) {
  EXPECT_EQ(parse_role("Reader"), Role::kReader);
  EXPECT_EQ(parse_role("reader"), Role::kReader);
  EXPECT_EQ(parse_role("READER"), Role::kReader);
  EXPECT_EQ(parse_role("rEaDeR"), Role::kReader);
  EXPECT_EQ(parse_role("writer"), Role::kWriter);
  EXPECT_EQ(parse_role("WRITER"), Role::kWriter);
  EXPECT_EQ(parse_role("manager"), Role::kManager);
  EXPECT_EQ(parse_role("MaNaGeR"), Role::kManager);
}

TEST(RoleNames, ParseRejectsOthers) {
  for (std::string_view text : {"", "Admin", "Administrator", "Viewer", "Read", "Readers", " Reader", "Reader ",
                                "Re ader", "Writer\n", "Manager,Reader"}) {
    EXPECT_EQ(parse_role(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(RoleNames, RoundTrip) {
  for (Role role : {Role::kReader, Role::kWriter, Role::kManager}) {
    EXPECT_EQ(parse_role(role_name(role)), role) << role_name(role);
  }
}

}  // namespace
}  // namespace berth::auth
