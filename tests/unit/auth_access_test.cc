// AccessControl and Tenants against a real SQLite metadata store: API key
// lookup, repository verdicts, token scope grants and the input checks of
// the tenant operations.
#include "auth/access_control.h"
#include "auth/credentials.h"
#include "auth/tenants.h"
#include "core/error.h"
#include "metadata/cached_store.h"
#include "metadata/sqlite_store.h"
#include "support/temp_directory.h"

#include <gmock/gmock.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::auth {
namespace {

using metadata::IdentityKind;
using metadata::IdentityRecord;
using metadata::PolicyRecord;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const AuditContext kAdmin{.actor = "admin", .client = "127.0.0.1", .request_id = "test"};

// `text` in single quotes, as the error messages quote values.
std::string single_quoted(std::string_view text) {
  std::string result = "'";
  result += text;
  result += '\'';
  return result;
}

ResourceScope scope_of(std::string type, std::string name, std::vector<std::string> actions) {
  return ResourceScope{.type = std::move(type), .name = std::move(name), .actions = std::move(actions)};
}

ResourceScope repository_scope(std::string name, std::vector<std::string> actions) {
  return scope_of("repository", std::move(name), std::move(actions));
}

PolicyRecord policy(std::string role, std::string namespace_name) {
  return PolicyRecord{.id = "policy", .account_id = "account", .identity_id = "User-1", .role = std::move(role),
                      .namespace_name = std::move(namespace_name)};
}

// Runs `action` and returns the name of the core::Error code it raised,
// such as "CONFLICT", or nullopt if it raised none. `message` receives the
// error message. Names rather than enumerators keep failures readable.
std::optional<std::string> error_code_of(const std::function<void()>& action, std::string* message = nullptr) {
  try {
    action();
  } catch (const core::Error& error) {
    if (message) *message = error.what();
    return std::string(core::error_code_name(error.code()));
  }
  return std::nullopt;
}

// Redirects spdlog's default logger into a string for the object's lifetime.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(output_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }

  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() const { return output_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream output_;
};

// Account "acme" owns the private namespace "acme-private" and the public
// namespace "acme-public", and account "globex" owns "globex-ns". The users
// differ in their policies, and each has one API key.
class AccessControlTest : public ::testing::Test {
 protected:
  AccessControlTest()
      : store_(metadata::SqliteOptions{.path = (directory_.path() / "metadata.db").string(), .synchronous = "normal"}),
        tenants_(store_),
        access_(store_) {
    acme_ = tenants_.create_account("acme", "standard", kAdmin).id;
    globex_ = tenants_.create_account("globex", "lite", kAdmin).id;
    tenants_.create_namespace(acme_, "acme-private", kAdmin);
    tenants_.create_namespace(acme_, "acme-public", kAdmin);
    tenants_.create_namespace(globex_, "globex-ns", kAdmin);
    store_.set_namespace_public("acme-public", true);

    writer_ = user(acme_, "writer", {{"Writer", ""}});
    reader_ = user(acme_, "reader", {{"Reader", ""}});
    manager_ = user(acme_, "manager", {{"Manager", ""}});
    namespace_writer_ = user(acme_, "namespace-writer", {{"Writer", "acme-private"}});
    reader_writer_ = user(acme_, "reader-writer", {{"Reader", ""}, {"Writer", ""}});
    no_policy_ = user(acme_, "no-policy", {});
    globex_manager_ = user(globex_, "globex-manager", {{"Manager", ""}});
  }

  struct User {
    IdentityRecord identity;
    CreatedApiKey key;
  };

  // Creates a user with the given (role, namespace) policies and an API key.
  User user(const std::string& account_id, const std::string& name,
            const std::vector<std::pair<std::string, std::string>>& policies) {
    User created;
    created.identity = tenants_.create_identity(account_id, IdentityKind::kUser, name, "", kAdmin);
    for (const auto& [role, namespace_name] : policies) {
      tenants_.create_policy(created.identity, role, namespace_name, kAdmin);
    }
    created.key = tenants_.create_api_key(created.identity, name + "-key", "", kAdmin);
    return created;
  }

  Principal principal(const User& user) {
    auto found = access_.principal_for_api_key(user.key.secret);
    if (!found) throw std::runtime_error("no principal for the API key of " + user.identity.name);
    return *found;
  }

  test_support::TempDirectory directory_;
  metadata::SqliteStore store_;
  Tenants tenants_;
  AccessControl access_;

  std::string acme_;
  std::string globex_;
  User writer_;
  User reader_;
  User manager_;
  User namespace_writer_;
  User reader_writer_;
  User no_policy_;
  User globex_manager_;
};

// --- API keys and principals ---------------------------------------------------

TEST_F(AccessControlTest, ValidKeyGivesPrincipal) {
  auto principal = access_.principal_for_api_key(namespace_writer_.key.secret);

  ASSERT_TRUE(principal.has_value());
  EXPECT_EQ(principal->identity.id, namespace_writer_.identity.id);
  EXPECT_EQ(principal->identity.account_id, acme_);
  EXPECT_EQ(principal->identity.name, "namespace-writer");
  EXPECT_EQ(principal->api_key_id, namespace_writer_.key.record.id);
  ASSERT_EQ(principal->policies.size(), 1u);
  EXPECT_EQ(principal->policies[0].role, "Writer");
  EXPECT_EQ(principal->policies[0].namespace_name, "acme-private");
}

TEST_F(AccessControlTest, ValidKeyRecordsLastUse) {
  ASSERT_EQ(store_.find_api_key(writer_.key.record.id)->last_used_at, 0);

  ASSERT_TRUE(access_.principal_for_api_key(writer_.key.secret).has_value());

  EXPECT_GT(store_.find_api_key(writer_.key.record.id)->last_used_at, 0);
}

TEST_F(AccessControlTest, UnknownKeyRejected) {
  EXPECT_EQ(access_.principal_for_api_key(generate_api_key()), std::nullopt);
}

TEST_F(AccessControlTest, KeyWithoutPrefixRejected) {
  std::string_view secret = writer_.key.secret;

  EXPECT_EQ(access_.principal_for_api_key(secret.substr(kApiKeyPrefix.size())), std::nullopt);
  EXPECT_EQ(access_.principal_for_api_key("Berth_" + std::string(secret.substr(kApiKeyPrefix.size()))), std::nullopt);
  EXPECT_EQ(access_.principal_for_api_key(""), std::nullopt);
  EXPECT_EQ(access_.principal_for_api_key("berth_"), std::nullopt);
}

TEST_F(AccessControlTest, StoredHashIsNotASecret) {
  // A caller who learned the stored hash cannot log in with it.
  EXPECT_EQ(access_.principal_for_api_key(writer_.key.record.secret_hash), std::nullopt);
  EXPECT_EQ(access_.principal_for_api_key(std::string(kApiKeyPrefix) + writer_.key.record.secret_hash), std::nullopt);
}

TEST_F(AccessControlTest, DeletedKeyRejected) {
  tenants_.delete_api_key(writer_.key.record, kAdmin);

  EXPECT_EQ(access_.principal_for_api_key(writer_.key.secret), std::nullopt);
  EXPECT_EQ(access_.principal_for_key(writer_.identity.id, writer_.key.record.id), std::nullopt);
}

TEST_F(AccessControlTest, CachedNamespaceUntilForgotten) {
  ASSERT_TRUE(access_.find_namespace("globex-ns").has_value());
  tenants_.delete_namespace(globex_, "globex-ns", kAdmin);

  // A namespace's owner may be reused for a few seconds, until the cache
  // is dropped, as the management API does after every change.
  EXPECT_TRUE(access_.find_namespace("globex-ns").has_value());
  access_.forget_cached();
  EXPECT_EQ(access_.find_namespace("globex-ns"), std::nullopt);
  EXPECT_EQ(access_.find_namespace("never-created"), std::nullopt);
}

TEST_F(AccessControlTest, CachedPrincipalUntilForgotten) {
  ASSERT_TRUE(access_.principal_for_api_key(writer_.key.secret, /*allow_cached=*/true).has_value());
  tenants_.delete_api_key(writer_.key.record, kAdmin);

  // A cached lookup may still see the key for a few seconds, until the
  // cache is dropped.
  EXPECT_TRUE(access_.principal_for_api_key(writer_.key.secret, /*allow_cached=*/true).has_value());
  access_.forget_cached();
  EXPECT_EQ(access_.principal_for_api_key(writer_.key.secret, /*allow_cached=*/true), std::nullopt);
}

// Two nodes on one database: node one reads through a cache, and node
// two's writes reach it as invalidations, as PostgreSQL NOTIFY delivers them.
class AccessControlAcrossNodes : public ::testing::Test {
 protected:
  AccessControlAcrossNodes()
      : node_one_(std::make_unique<metadata::SqliteStore>(options()), 1 << 20, std::chrono::hours(1)),
        node_two_(options()),
        tenants_(node_two_),
        access_(node_one_) {
    account_ = tenants_.create_account("acme", "standard", kAdmin).id;
    tenants_.create_namespace(account_, "acme-ns", kAdmin);
  }

  metadata::SqliteOptions options() const {
    return metadata::SqliteOptions{.path = (directory_.path() / "berth.db").string()};
  }

  test_support::TempDirectory directory_;
  metadata::CachedStore node_one_;
  metadata::SqliteStore node_two_;
  Tenants tenants_;
  AccessControl access_;  // on node one
  std::string account_;
};

TEST_F(AccessControlAcrossNodes, AccessInvalidationDropsCachedEntries) {
  IdentityRecord identity = tenants_.create_identity(account_, IdentityKind::kUser, "writer", "", kAdmin);
  tenants_.create_policy(identity, "Writer", "", kAdmin);
  CreatedApiKey key = tenants_.create_api_key(identity, "writer-key", "", kAdmin);
  ASSERT_TRUE(access_.principal_for_api_key(key.secret, /*allow_cached=*/true).has_value());
  ASSERT_TRUE(access_.find_namespace("acme-ns").has_value());

  tenants_.delete_api_key(key.record, kAdmin);
  tenants_.delete_namespace(account_, "acme-ns", kAdmin);
  // Without the invalidation, node one still uses what it read.
  ASSERT_TRUE(access_.principal_for_api_key(key.secret, /*allow_cached=*/true).has_value());
  ASSERT_TRUE(access_.find_namespace("acme-ns").has_value());

  node_one_.apply({.scope = metadata::Invalidation::Scope::kAccess});

  EXPECT_EQ(access_.principal_for_api_key(key.secret, /*allow_cached=*/true), std::nullopt);
  EXPECT_EQ(access_.find_namespace("acme-ns"), std::nullopt);
}

TEST_F(AccessControlAcrossNodes, NothingCachedWhileInvalidationsMayBeLost) {
  node_one_.set_receiving(false);
  ASSERT_TRUE(access_.find_namespace("acme-ns").has_value());

  tenants_.delete_namespace(account_, "acme-ns", kAdmin);

  EXPECT_EQ(access_.find_namespace("acme-ns"), std::nullopt);
}

TEST_F(AccessControlTest, FreshLookupDropsStaleEntry) {
  ASSERT_TRUE(access_.principal_for_api_key(writer_.key.secret, /*allow_cached=*/true).has_value());
  tenants_.delete_api_key(writer_.key.record, kAdmin);

  // A token login never uses the cache, and its miss removes the entry.
  EXPECT_EQ(access_.principal_for_api_key(writer_.key.secret, /*allow_cached=*/false), std::nullopt);
  EXPECT_EQ(access_.principal_for_api_key(writer_.key.secret, /*allow_cached=*/true), std::nullopt);
}

TEST_F(AccessControlTest, FreshLookupNotCachedForUnknownKey) {
  EXPECT_EQ(access_.principal_for_api_key("berth_unknown", /*allow_cached=*/true), std::nullopt);
  EXPECT_EQ(access_.principal_for_api_key("berth_unknown", /*allow_cached=*/true), std::nullopt);
}

TEST_F(AccessControlTest, DeletedIdentityRejected) {
  tenants_.delete_identity(writer_.identity, kAdmin);

  EXPECT_EQ(access_.principal_for_api_key(writer_.key.secret), std::nullopt);
}

TEST_F(AccessControlTest, PrincipalForKeyOfIdentity) {
  auto principal = access_.principal_for_key(reader_.identity.id, reader_.key.record.id);

  ASSERT_TRUE(principal.has_value());
  EXPECT_EQ(principal->identity.id, reader_.identity.id);
  EXPECT_EQ(principal->api_key_id, reader_.key.record.id);
  ASSERT_EQ(principal->policies.size(), 1u);
  EXPECT_EQ(principal->policies[0].role, "Reader");
}

TEST_F(AccessControlTest, PrincipalForKeyMismatchedIdentity) {
  EXPECT_EQ(access_.principal_for_key(reader_.identity.id, writer_.key.record.id), std::nullopt);
  EXPECT_EQ(access_.principal_for_key(globex_manager_.identity.id, writer_.key.record.id), std::nullopt);
  EXPECT_EQ(access_.principal_for_key("User-00000000-0000-0000-0000-000000000000", writer_.key.record.id),
            std::nullopt);
}

TEST_F(AccessControlTest, PrincipalForUnknownKey) {
  EXPECT_EQ(access_.principal_for_key(reader_.identity.id, "ApiKey-00000000-0000-0000-0000-000000000000"),
            std::nullopt);
}

TEST_F(AccessControlTest, PrincipalKeepsPoliciesOfLogin) {
  Principal before = principal(no_policy_);
  tenants_.create_policy(no_policy_.identity, "Reader", "", kAdmin);

  EXPECT_THAT(before.policies, IsEmpty());
  EXPECT_EQ(principal(no_policy_).policies.size(), 1u);
}

// --- check_repository ------------------------------------------------------------

TEST_F(AccessControlTest, WriterPushesToOwnNamespace) {
  Principal writer = principal(writer_);

  EXPECT_EQ(access_.check_repository(&writer, "acme-private/app", Action::kImagePush), Verdict::kAllowed);
  EXPECT_EQ(access_.check_repository(&writer, "acme-private/app", Action::kImagePull), Verdict::kAllowed);
  EXPECT_EQ(access_.check_repository(&writer, "acme-private/group/app", Action::kImageDelete), Verdict::kAllowed);
}

TEST_F(AccessControlTest, OtherAccountNamespaceDenied) {
  Principal writer = principal(writer_);
  Principal globex = principal(globex_manager_);

  EXPECT_EQ(access_.check_repository(&writer, "globex-ns/app", Action::kImagePull), Verdict::kDenied);
  EXPECT_EQ(access_.check_repository(&writer, "globex-ns/app", Action::kImagePush), Verdict::kDenied);
  EXPECT_EQ(access_.check_repository(&globex, "acme-private/app", Action::kImagePull), Verdict::kDenied);
}

TEST_F(AccessControlTest, MissingRoleDenied) {
  Principal reader = principal(reader_);
  Principal nobody = principal(no_policy_);

  EXPECT_EQ(access_.check_repository(&reader, "acme-private/app", Action::kImagePull), Verdict::kAllowed);
  EXPECT_EQ(access_.check_repository(&reader, "acme-private/app", Action::kImagePush), Verdict::kDenied);
  EXPECT_EQ(access_.check_repository(&reader, "acme-private/app", Action::kImageDelete), Verdict::kDenied);
  EXPECT_EQ(access_.check_repository(&nobody, "acme-private/app", Action::kImagePull), Verdict::kDenied);
}

TEST_F(AccessControlTest, NamespacePolicyCoversOnlyItsNamespace) {
  Principal writer = principal(namespace_writer_);

  EXPECT_EQ(access_.check_repository(&writer, "acme-private/app", Action::kImagePush), Verdict::kAllowed);
  EXPECT_EQ(access_.check_repository(&writer, "acme-public/app", Action::kImagePush), Verdict::kDenied);
}

TEST_F(AccessControlTest, MissingNamespace) {
  Principal writer = principal(writer_);

  EXPECT_EQ(access_.check_repository(&writer, "nobody-owns/app", Action::kImagePush), Verdict::kNamespaceMissing);
  EXPECT_EQ(access_.check_repository(&writer, "nobody-owns/app", Action::kImagePull), Verdict::kNamespaceMissing);
}

TEST_F(AccessControlTest, AnonymousOnPrivateNamespace) {
  EXPECT_EQ(access_.check_repository(nullptr, "acme-private/app", Action::kImagePull), Verdict::kUnauthenticated);
  EXPECT_EQ(access_.check_repository(nullptr, "acme-private/app", Action::kImagePush), Verdict::kUnauthenticated);
}

TEST_F(AccessControlTest, AnonymousOnMissingNamespace) {
  EXPECT_EQ(access_.check_repository(nullptr, "nobody-owns/app", Action::kImagePull), Verdict::kUnauthenticated);
}

TEST_F(AccessControlTest, AnonymousOnPublicNamespace) {
  EXPECT_EQ(access_.check_repository(nullptr, "acme-public/app", Action::kImagePull), Verdict::kAllowed);
  EXPECT_EQ(access_.check_repository(nullptr, "acme-public/app", Action::kImagePush), Verdict::kUnauthenticated);
  EXPECT_EQ(access_.check_repository(nullptr, "acme-public/app", Action::kImageDelete), Verdict::kUnauthenticated);
}

TEST_F(AccessControlTest, OtherAccountOnPublicNamespace) {
  Principal globex = principal(globex_manager_);

  EXPECT_EQ(access_.check_repository(&globex, "acme-public/app", Action::kImagePull), Verdict::kAllowed);
  EXPECT_EQ(access_.check_repository(&globex, "acme-public/app", Action::kImagePush), Verdict::kDenied);
}

TEST_F(AccessControlTest, NamespaceMadePrivateAgain) {
  store_.set_namespace_public("acme-public", false);

  EXPECT_EQ(access_.check_repository(nullptr, "acme-public/app", Action::kImagePull), Verdict::kUnauthenticated);
}

// --- policies_allow and allows_account -------------------------------------------

TEST(PoliciesAllow, NamespacePolicyNeverGrantsAccountActions) {
  std::vector<PolicyRecord> policies = {policy("Manager", "team")};

  for (Action action : all_actions()) {
    if (!is_account_action(action)) continue;
    EXPECT_FALSE(policies_allow(policies, action, "team")) << action_name(action);
    EXPECT_FALSE(policies_allow(policies, action, "")) << action_name(action);
  }
}

TEST(PoliciesAllow, NamespacePolicyGrantsImageActionsThere) {
  std::vector<PolicyRecord> policies = {policy("Writer", "team")};

  EXPECT_TRUE(policies_allow(policies, Action::kImagePush, "team"));
  EXPECT_FALSE(policies_allow(policies, Action::kImagePush, "other"));
  EXPECT_FALSE(policies_allow(policies, Action::kImagePush, ""));
  EXPECT_FALSE(policies_allow(policies, Action::kImageList, "team"));
}

TEST(PoliciesAllow, AccountPolicyGrantsEverywhere) {
  std::vector<PolicyRecord> policies = {policy("Manager", "")};

  for (Action action : all_actions()) {
    EXPECT_TRUE(policies_allow(policies, action, "")) << action_name(action);
    EXPECT_TRUE(policies_allow(policies, action, "team")) << action_name(action);
  }
}

TEST(PoliciesAllow, AccountWriterGetsQuotaButNotPlan) {
  std::vector<PolicyRecord> policies = {policy("Writer", "")};

  EXPECT_TRUE(policies_allow(policies, Action::kQuotaGet, ""));
  EXPECT_FALSE(policies_allow(policies, Action::kPlanGet, ""));
}

TEST(PoliciesAllow, PoliciesAddUp) {
  std::vector<PolicyRecord> policies = {policy("Reader", "one"), policy("Writer", "two")};

  EXPECT_TRUE(policies_allow(policies, Action::kImageList, "one"));
  EXPECT_FALSE(policies_allow(policies, Action::kImagePush, "one"));
  EXPECT_TRUE(policies_allow(policies, Action::kImagePush, "two"));
  EXPECT_FALSE(policies_allow(policies, Action::kImageList, "two"));
}

TEST(PoliciesAllow, RoleNameCaseIgnored) {
  EXPECT_TRUE(policies_allow({policy("writer", "")}, Action::kImagePush, "team"));
  EXPECT_TRUE(policies_allow({policy("READER", "team")}, Action::kImagePull, "team"));
}

TEST(PoliciesAllow, UnknownRoleGrantsNothing) {
  EXPECT_FALSE(policies_allow({policy("Owner", "")}, Action::kImagePull, "team"));
  EXPECT_FALSE(policies_allow({policy("", "")}, Action::kImagePull, "team"));
  EXPECT_FALSE(policies_allow({}, Action::kImagePull, "team"));
}

TEST(RegistryAction, Mapping) {
  EXPECT_EQ(registry_action("pull"), Action::kImagePull);
  EXPECT_EQ(registry_action("push"), Action::kImagePush);
  EXPECT_EQ(registry_action("delete"), Action::kImageDelete);
  EXPECT_EQ(registry_action("*"), std::nullopt);
  EXPECT_EQ(registry_action("PULL"), std::nullopt);
  EXPECT_EQ(registry_action(""), std::nullopt);
}

TEST_F(AccessControlTest, AllowsAccount) {
  EXPECT_TRUE(access_.allows_account(principal(manager_), Action::kIamManage));
  EXPECT_TRUE(access_.allows_account(principal(manager_), Action::kNamespaceCreate));
  EXPECT_TRUE(access_.allows_account(principal(writer_), Action::kQuotaGet));
  EXPECT_FALSE(access_.allows_account(principal(writer_), Action::kNamespaceCreate));
  EXPECT_FALSE(access_.allows_account(principal(namespace_writer_), Action::kQuotaGet));
  EXPECT_FALSE(access_.allows_account(principal(namespace_writer_), Action::kImagePush));
}

// --- grant -------------------------------------------------------------------------

TEST_F(AccessControlTest, GrantIntersectsActions) {
  Principal reader = principal(reader_);

  auto granted = access_.grant(&reader, {repository_scope("acme-private/app", {"pull", "push", "delete"})});

  EXPECT_THAT(granted, ElementsAre(repository_scope("acme-private/app", {"pull"})));
}

TEST_F(AccessControlTest, GrantDropsScopesWithNothingLeft) {
  Principal reader = principal(reader_);

  auto granted = access_.grant(&reader, {repository_scope("acme-private/app", {"push"}),
                                         repository_scope("globex-ns/app", {"pull"}),
                                         repository_scope("nobody-owns/app", {"pull"}),
                                         repository_scope("acme-private/other", {"pull"})});

  EXPECT_THAT(granted, ElementsAre(repository_scope("acme-private/other", {"pull"})));
}

TEST_F(AccessControlTest, GrantWildcardForWriter) {
  Principal writer = principal(writer_);

  auto granted = access_.grant(&writer, {repository_scope("acme-private/app", {"*"})});

  EXPECT_THAT(granted, ElementsAre(repository_scope("acme-private/app", {"*", "delete", "pull", "push"})));
}

TEST_F(AccessControlTest, GrantWildcardForReader) {
  Principal reader = principal(reader_);

  auto granted = access_.grant(&reader, {repository_scope("acme-private/app", {"*"})});

  EXPECT_THAT(granted, ElementsAre(repository_scope("acme-private/app", {"pull"})));
}

TEST_F(AccessControlTest, GrantWildcardForManager) {
  Principal manager = principal(manager_);

  auto granted = access_.grant(&manager, {repository_scope("acme-private/app", {"*"})});

  EXPECT_THAT(granted, ElementsAre(repository_scope("acme-private/app", {"*", "delete", "pull", "push"})));
}

TEST_F(AccessControlTest, GrantWildcardAnonymousOnPublic) {
  auto granted = access_.grant(nullptr, {repository_scope("acme-public/app", {"*"}),
                                         repository_scope("acme-private/app", {"*"})});

  EXPECT_THAT(granted, ElementsAre(repository_scope("acme-public/app", {"pull"})));
}

TEST_F(AccessControlTest, GrantAnonymousPushOnPublicDropped) {
  auto granted = access_.grant(nullptr, {repository_scope("acme-public/app", {"pull", "push"})});

  EXPECT_THAT(granted, ElementsAre(repository_scope("acme-public/app", {"pull"})));
}

TEST_F(AccessControlTest, GrantCatalogOnlyWhenAuthenticated) {
  Principal nobody = principal(no_policy_);
  std::vector<ResourceScope> request = {scope_of("registry", "catalog", {"*"})};

  EXPECT_THAT(access_.grant(&nobody, request), ElementsAre(scope_of("registry", "catalog", {"*"})));
  EXPECT_THAT(access_.grant(nullptr, request), IsEmpty());
}

TEST_F(AccessControlTest, GrantCatalogNeedsWildcard) {
  Principal writer = principal(writer_);

  EXPECT_THAT(access_.grant(&writer, {scope_of("registry", "catalog", {"pull"})}), IsEmpty());
  EXPECT_THAT(access_.grant(&writer, {scope_of("registry", "catalog", {"pull", "*"})}),
              ElementsAre(scope_of("registry", "catalog", {"*"})));
}

TEST_F(AccessControlTest, GrantDropsInvalidRepositoryNames) {
  Principal writer = principal(writer_);

  auto granted = access_.grant(&writer, {repository_scope("Acme-Private/App", {"pull"}),
                                         repository_scope("acme-private//app", {"pull"}),
                                         repository_scope("acme-private/app/", {"pull"}),
                                         repository_scope("localhost:5000/acme-private/app", {"pull"}),
                                         repository_scope("acme-private/app", {"pull"})});

  EXPECT_THAT(granted, ElementsAre(repository_scope("acme-private/app", {"pull"})));
}

TEST_F(AccessControlTest, GrantDropsOtherTypesAndActions) {
  Principal manager = principal(manager_);

  auto granted = access_.grant(&manager, {scope_of("repository(plugin)", "acme-private/app", {"pull"}),
                                          scope_of("registry", "other", {"*"}),
                                          repository_scope("acme-private/app", {"list", "tag"})});

  EXPECT_THAT(granted, IsEmpty());
}

TEST_F(AccessControlTest, GrantMergesDuplicateScopes) {
  Principal writer = principal(writer_);

  auto granted = access_.grant(&writer, {repository_scope("acme-private/app", {"push"}),
                                         repository_scope("acme-private/other", {"pull"}),
                                         repository_scope("acme-private/app", {"pull", "push"}),
                                         scope_of("registry", "catalog", {"*"}),
                                         scope_of("registry", "catalog", {"*"})});

  EXPECT_THAT(granted, ElementsAre(repository_scope("acme-private/app", {"pull", "push"}),
                                   repository_scope("acme-private/other", {"pull"}),
                                   scope_of("registry", "catalog", {"*"})));
}

TEST_F(AccessControlTest, GrantMergesWildcardWithExplicitActions) {
  Principal writer = principal(writer_);

  auto granted = access_.grant(&writer, {repository_scope("acme-private/app", {"pull"}),
                                         repository_scope("acme-private/app", {"*"})});

  EXPECT_THAT(granted, ElementsAre(repository_scope("acme-private/app", {"*", "delete", "pull", "push"})));
}

TEST_F(AccessControlTest, GrantEmptyRequest) {
  Principal writer = principal(writer_);

  EXPECT_THAT(access_.grant(&writer, {}), IsEmpty());
  EXPECT_THAT(access_.grant(nullptr, {}), IsEmpty());
}

TEST_F(AccessControlTest, GrantForReaderAndWriterTogether) {
  Principal both = principal(reader_writer_);

  auto granted = access_.grant(&both, {repository_scope("acme-private/app", {"*"})});

  EXPECT_THAT(granted, ElementsAre(repository_scope("acme-private/app", {"*", "delete", "pull", "push"})));
}

// --- namespace listings ------------------------------------------------------------

TEST_F(AccessControlTest, NamespacesAllowing) {
  EXPECT_THAT(access_.namespaces_allowing(principal(writer_), Action::kImagePush),
              ElementsAre("acme-private", "acme-public"));
  EXPECT_THAT(access_.namespaces_allowing(principal(namespace_writer_), Action::kImagePush),
              ElementsAre("acme-private"));
  EXPECT_THAT(access_.namespaces_allowing(principal(reader_), Action::kImagePush), IsEmpty());
  EXPECT_THAT(access_.namespaces_allowing(principal(reader_), Action::kImageList),
              ElementsAre("acme-private", "acme-public"));
  EXPECT_THAT(access_.namespaces_allowing(principal(globex_manager_), Action::kImagePull), ElementsAre("globex-ns"));
  EXPECT_THAT(access_.namespaces_allowing(principal(no_policy_), Action::kImagePull), IsEmpty());
}

TEST_F(AccessControlTest, PublicNamespaces) {
  EXPECT_THAT(access_.public_namespaces(), ElementsAre("acme-public"));

  store_.set_namespace_public("globex-ns", true);
  EXPECT_THAT(access_.public_namespaces(), ElementsAre("acme-public", "globex-ns"));
}

// --- Tenants -----------------------------------------------------------------------

TEST_F(AccessControlTest, InvalidNamespaceName) {
  std::vector<std::string> names = {"Acme", "acm", "acme.ns", "acme/ns", "-acme", "acme_", std::string(31, 'a')};
  for (const auto& name : names) {
    std::string message;
    EXPECT_EQ(error_code_of([&] { tenants_.create_namespace(acme_, name, kAdmin); }, &message), "NAME_INVALID")
        << name;
    EXPECT_THAT(message, HasSubstr(single_quoted(name)));
    EXPECT_FALSE(store_.find_namespace(name).has_value()) << name;
  }
}

TEST_F(AccessControlTest, NamespaceCreatedAgainBySameAccount) {
  EXPECT_FALSE(tenants_.create_namespace(acme_, "acme-private", kAdmin));
  EXPECT_TRUE(tenants_.create_namespace(acme_, "acme-third", kAdmin));
}

TEST_F(AccessControlTest, NamespaceTakenByOtherAccount) {
  std::string message;

  EXPECT_EQ(error_code_of([&] { tenants_.create_namespace(globex_, "acme-private", kAdmin); }, &message),
            "CONFLICT");
  EXPECT_THAT(message, HasSubstr("'acme-private'"));
  EXPECT_EQ(store_.find_namespace("acme-private")->account_id, acme_);
}

TEST_F(AccessControlTest, NamespaceLimit) {
  std::string account = tenants_.create_account("initech", "standard", kAdmin).id;
  for (std::size_t i = 0; i < kMaxNamespacesPerAccount; ++i) {
    ASSERT_TRUE(tenants_.create_namespace(account, "initech-" + std::to_string(i), kAdmin)) << i;
  }

  std::string message;
  EXPECT_EQ(error_code_of([&] { tenants_.create_namespace(account, "initech-extra", kAdmin); }, &message),
            "CONFLICT");
  EXPECT_THAT(message, HasSubstr("100"));
  EXPECT_FALSE(store_.find_namespace("initech-extra").has_value());

  // A name the account owns already is not a new namespace.
  EXPECT_FALSE(tenants_.create_namespace(account, "initech-0", kAdmin));
}

TEST_F(AccessControlTest, NamespaceForUnknownAccount) {
  EXPECT_EQ(error_code_of([&] { tenants_.create_namespace(std::string(32, 'f'), "orphan-ns", kAdmin); }),
            "NOT_FOUND");
}

TEST_F(AccessControlTest, DeleteNamespaceOfOtherAccount) {
  EXPECT_EQ(error_code_of([&] { tenants_.delete_namespace(globex_, "acme-private", kAdmin); }), "NOT_FOUND");
  EXPECT_TRUE(store_.find_namespace("acme-private").has_value());

  tenants_.delete_namespace(acme_, "acme-private", kAdmin);
  EXPECT_FALSE(store_.find_namespace("acme-private").has_value());
}

TEST_F(AccessControlTest, DuplicateAccount) {
  std::string message;

  EXPECT_EQ(error_code_of([&] { tenants_.create_account("acme", "lite", kAdmin); }, &message), "CONFLICT");
  EXPECT_THAT(message, HasSubstr("'acme'"));
}

TEST_F(AccessControlTest, UnknownPlan) {
  std::string message;

  EXPECT_EQ(error_code_of([&] { tenants_.create_account("hooli", "gold", kAdmin); }, &message),
            "BAD_REQUEST");
  EXPECT_THAT(message, HasSubstr("'gold'"));
  EXPECT_FALSE(store_.find_account_by_name("hooli").has_value());
}

TEST_F(AccessControlTest, InvalidDisplayNames) {
  EXPECT_EQ(error_code_of([&] { tenants_.create_account("", "lite", kAdmin); }), "BAD_REQUEST");
  EXPECT_EQ(error_code_of([&] { tenants_.create_account(std::string(101, 'x'), "lite", kAdmin); }),
            "BAD_REQUEST");
  EXPECT_EQ(error_code_of([&] { tenants_.create_identity(acme_, IdentityKind::kUser, "bad\nname", "", kAdmin); }),
            "BAD_REQUEST");
  EXPECT_EQ(error_code_of([&] {
              tenants_.create_identity(acme_, IdentityKind::kServiceId, "ci", std::string(1001, 'd'), kAdmin);
            }),
            "BAD_REQUEST");
  EXPECT_EQ(error_code_of([&] { tenants_.create_api_key(writer_.identity, "", "", kAdmin); }), "BAD_REQUEST");
}

TEST_F(AccessControlTest, DuplicateIdentityName) {
  EXPECT_EQ(error_code_of([&] { tenants_.create_identity(acme_, IdentityKind::kUser, "writer", "", kAdmin); }),
            "CONFLICT");

  // Names are unique per kind, and per account.
  EXPECT_NO_THROW(tenants_.create_identity(acme_, IdentityKind::kServiceId, "writer", "", kAdmin));
  EXPECT_NO_THROW(tenants_.create_identity(globex_, IdentityKind::kUser, "writer", "", kAdmin));
}

TEST_F(AccessControlTest, IdentityIdForm) {
  auto user = tenants_.create_identity(acme_, IdentityKind::kUser, "carol", "", kAdmin);
  auto service = tenants_.create_identity(acme_, IdentityKind::kServiceId, "ci", "", kAdmin);

  EXPECT_THAT(user.id, ::testing::StartsWith("User-"));
  EXPECT_THAT(service.id, ::testing::StartsWith("ServiceId-"));
  EXPECT_EQ(identity_kind_name(IdentityKind::kUser), "user");
  EXPECT_EQ(identity_kind_name(IdentityKind::kServiceId), "serviceid");
}

// The store returns false both for a duplicate name and for a missing
// account; only the first is a conflict.
TEST_F(AccessControlTest, IdentityForUnknownAccountNotFound) {
  std::string message;

  EXPECT_EQ(error_code_of([&] {
              tenants_.create_identity(std::string(32, 'f'), IdentityKind::kUser, "dave", "", kAdmin);
            },
                          &message),
            "NOT_FOUND");
  EXPECT_THAT(message, Not(HasSubstr("already has")));
}

TEST_F(AccessControlTest, UnknownRole) {
  std::string message;

  EXPECT_EQ(error_code_of([&] { tenants_.create_policy(no_policy_.identity, "Owner", "", kAdmin); }, &message),
            "BAD_REQUEST");
  EXPECT_THAT(message, HasSubstr("'Owner'"));
  EXPECT_THAT(store_.identity_policies(no_policy_.identity.id), IsEmpty());
}

TEST_F(AccessControlTest, RoleStoredInCanonicalCase) {
  auto created = tenants_.create_policy(no_policy_.identity, "mAnAgEr", "acme-private", kAdmin);

  EXPECT_EQ(created.role, "Manager");
  EXPECT_EQ(created.account_id, acme_);
  EXPECT_EQ(created.identity_id, no_policy_.identity.id);
  ASSERT_EQ(store_.identity_policies(no_policy_.identity.id).size(), 1u);
  EXPECT_EQ(store_.identity_policies(no_policy_.identity.id)[0].role, "Manager");
}

TEST_F(AccessControlTest, PolicyOnOtherAccountNamespace) {
  std::string message;

  EXPECT_EQ(error_code_of([&] { tenants_.create_policy(no_policy_.identity, "Reader", "globex-ns", kAdmin); },
                          &message),
            "NOT_FOUND");
  EXPECT_THAT(message, HasSubstr("'globex-ns'"));
  EXPECT_THAT(store_.identity_policies(no_policy_.identity.id), IsEmpty());
}

TEST_F(AccessControlTest, PolicyOnMissingNamespace) {
  EXPECT_EQ(error_code_of([&] { tenants_.create_policy(no_policy_.identity, "Reader", "nobody-owns", kAdmin); }),
            "NOT_FOUND");
}

TEST_F(AccessControlTest, DuplicatePolicy) {
  EXPECT_EQ(error_code_of([&] { tenants_.create_policy(writer_.identity, "writer", "", kAdmin); }),
            "CONFLICT");
  EXPECT_EQ(store_.identity_policies(writer_.identity.id).size(), 1u);
}

TEST_F(AccessControlTest, ApiKeyStoresOnlyHash) {
  LogCapture log;
  CreatedApiKey created = tenants_.create_api_key(reader_.identity, "ci-key", "key for CI", kAdmin);

  EXPECT_THAT(created.secret, ::testing::StartsWith(std::string(kApiKeyPrefix)));
  EXPECT_EQ(created.record.secret_hash, hash_api_key(created.secret));

  auto stored = store_.find_api_key(created.record.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->secret_hash, hash_api_key(created.secret));

  std::string secret_body = created.secret.substr(kApiKeyPrefix.size());
  std::vector<metadata::ApiKeyRecord> records = {created.record, *stored};
  for (const auto& key : store_.list_api_keys(acme_)) records.push_back(key);
  for (const auto& record : records) {
    for (const std::string* field : {&record.id, &record.identity_id, &record.account_id, &record.name,
                                     &record.description, &record.secret_hash}) {
      EXPECT_THAT(*field, Not(HasSubstr(secret_body))) << "a field of " << record.id << " contains the secret";
    }
  }

  EXPECT_THAT(log.text(), HasSubstr("api_key_created"));
  EXPECT_THAT(log.text(), Not(HasSubstr(secret_body)));
}

TEST_F(AccessControlTest, ApiKeyForDeletedIdentity) {
  IdentityRecord identity = tenants_.create_identity(acme_, IdentityKind::kServiceId, "gone", "", kAdmin);
  tenants_.delete_identity(identity, kAdmin);

  EXPECT_EQ(error_code_of([&] { tenants_.create_api_key(identity, "late-key", "", kAdmin); }), "NOT_FOUND");
}

TEST_F(AccessControlTest, DeleteTwiceNotFound) {
  tenants_.delete_api_key(reader_.key.record, kAdmin);

  EXPECT_EQ(error_code_of([&] { tenants_.delete_api_key(reader_.key.record, kAdmin); }), "NOT_FOUND");
}

}  // namespace
}  // namespace berth::auth
