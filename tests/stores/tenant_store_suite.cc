// Contract tests for the tenant part of metadata::MetadataStore: accounts,
// identities, API keys, access policies and namespaces. They join the
// MetadataStoreContract suite, so every backend instantiated in
// metadata_store_suite.cc runs them. The CachedStore and schema migration
// tests at the end need the concrete classes.
#include "stores/metadata_store_suite.h"

#include "core/digest.h"
#include "core/time.h"
#include "metadata/cached_store.h"
#include "metadata/sqlite_connection.h"
#include "metadata/sqlite_schema.h"
#include "metadata/sqlite_store.h"
#include "oci/media_types.h"
#include "support/printers.h"
#include "support/temp_directory.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <exception>
#include <latch>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace berth::store_tests {
namespace {

using core::Digest;
using metadata::AccountRecord;
using metadata::ApiKeyRecord;
using metadata::CreateNamespaceResult;
using metadata::IdentityKind;
using metadata::IdentityRecord;
using metadata::ManifestWrite;
using metadata::MetadataStore;
using metadata::NamePage;
using metadata::NamespaceRecord;
using metadata::PolicyRecord;
using metadata::UploadRecord;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::UnorderedElementsAre;

// Account ids are 32 lowercase hex digits.
const std::string kAccountA(32, 'a');
const std::string kAccountB(32, 'b');
const std::string kAccountC(32, 'c');
const std::string kUnknownAccount(32, 'f');

// The namespace limit the tests pass where the limit is not under test.
constexpr std::size_t kManyNamespaces = 100;

Digest sha256_of(std::string_view text) { return core::digest_of(core::DigestAlgorithm::kSha256, text); }

AccountRecord account_record(const std::string& id, const std::string& name) {
  return AccountRecord{.id = id, .name = name, .plan = "lite", .created_at = 1700000000};
}

IdentityRecord identity_record(const std::string& id, const std::string& account_id, IdentityKind kind,
                               const std::string& name) {
  return IdentityRecord{.id = id,
                        .account_id = account_id,
                        .kind = kind,
                        .name = name,
                        .description = "identity " + name,
                        .created_at = 1700000100};
}

ApiKeyRecord api_key_record(const std::string& id, const std::string& identity_id, std::int64_t created_at) {
  return ApiKeyRecord{.id = id,
                      .identity_id = identity_id,
                      .name = "key " + id,
                      .description = "description of " + id,
                      .secret_hash = sha256_of("secret of " + id).hex(),
                      .created_at = created_at};
}

PolicyRecord policy_record(const std::string& id, const std::string& account_id, const std::string& identity_id,
                           const std::string& role, const std::string& namespace_name) {
  return PolicyRecord{.id = id,
                      .account_id = account_id,
                      .identity_id = identity_id,
                      .role = role,
                      .namespace_name = namespace_name,
                      .created_at = 1700000200};
}

NamespaceRecord namespace_record(const std::string& name, const std::string& account_id) {
  return NamespaceRecord{.name = name, .account_id = account_id, .created_at = 1700000300, .updated_at = 1700000300};
}

std::vector<std::string> key_ids(const std::vector<ApiKeyRecord>& keys) {
  std::vector<std::string> out;
  for (const auto& key : keys) out.push_back(key.id);
  return out;
}

std::vector<std::string> identity_ids(const std::vector<IdentityRecord>& identities) {
  std::vector<std::string> out;
  for (const auto& identity : identities) out.push_back(identity.id);
  return out;
}

std::vector<std::string> policy_ids(const std::vector<PolicyRecord>& policies) {
  std::vector<std::string> out;
  for (const auto& policy : policies) out.push_back(policy.id);
  return out;
}

std::vector<std::string> namespace_names(const std::vector<NamespaceRecord>& namespaces) {
  std::vector<std::string> out;
  for (const auto& ns : namespaces) out.push_back(ns.name);
  return out;
}

std::vector<std::string> account_ids(const std::vector<AccountRecord>& accounts) {
  std::vector<std::string> out;
  for (const auto& account : accounts) out.push_back(account.id);
  return out;
}

// The image manifest write that push_image() stores in `repository`.
ManifestWrite image_in(const std::string& repository) {
  std::string content = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":")" +
                        repository + R"("})";
  return ManifestWrite{.repository = repository,
                       .digest = sha256_of(content),
                       .media_type = std::string(oci::media_type::kOciManifest),
                       .content = content,
                       .blob_references = {sha256_of("shared layer"), sha256_of("layer of " + repository)},
                       .tag = "latest"};
}

// Links two layers to `repository` (one shared by every repository, one
// of its own) and stores image_in(repository) tagged "latest".
ManifestWrite push_image(MetadataStore& store, const std::string& repository) {
  ManifestWrite image = image_in(repository);
  for (const auto& layer : image.blob_references) store.link_blob(repository, layer, 5);
  EXPECT_TRUE(store.put_manifest(image).stored) << repository;
  return image;
}

// Creates account A with an identity "ci" and returns the identity.
IdentityRecord account_with_identity(MetadataStore& store) {
  EXPECT_TRUE(store.create_account(account_record(kAccountA, "alpha")));
  IdentityRecord identity = identity_record("ServiceId-1", kAccountA, IdentityKind::kServiceId, "ci");
  EXPECT_TRUE(store.create_identity(identity));
  return identity;
}

// --- Accounts -----------------------------------------------------------

TEST_P(MetadataStoreContract, CreatedAccountIsFound) {
  AccountRecord account{.id = kAccountA, .name = "alpha", .plan = "standard", .created_at = 1700000000};

  ASSERT_TRUE(store().create_account(account));

  auto by_id = store().find_account(kAccountA);
  ASSERT_TRUE(by_id.has_value());
  EXPECT_EQ(by_id->id, kAccountA);
  EXPECT_EQ(by_id->name, "alpha");
  EXPECT_EQ(by_id->plan, "standard");
  EXPECT_EQ(by_id->created_at, 1700000000);
  auto by_name = store().find_account_by_name("alpha");
  ASSERT_TRUE(by_name.has_value());
  EXPECT_EQ(by_name->id, kAccountA);
}

TEST_P(MetadataStoreContract, FindUnknownAccount) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));

  EXPECT_EQ(store().find_account(kAccountB), std::nullopt);
  EXPECT_EQ(store().find_account_by_name("beta"), std::nullopt);
  EXPECT_EQ(store().find_account_by_name("ALPHA"), std::nullopt);
}

TEST_P(MetadataStoreContract, CreateAccountDuplicateName) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));

  EXPECT_FALSE(store().create_account(account_record(kAccountB, "alpha")));

  EXPECT_EQ(store().find_account(kAccountB), std::nullopt);
  auto found = store().find_account_by_name("alpha");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, kAccountA);
}

TEST_P(MetadataStoreContract, CreateAccountDuplicateId) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));

  EXPECT_FALSE(store().create_account(account_record(kAccountA, "beta")));

  EXPECT_EQ(store().find_account_by_name("beta"), std::nullopt);
  auto found = store().find_account(kAccountA);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "alpha");
}

TEST_P(MetadataStoreContract, ListAccounts) {
  EXPECT_THAT(store().list_accounts(), IsEmpty());
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));

  EXPECT_THAT(account_ids(store().list_accounts()), UnorderedElementsAre(kAccountA, kAccountB));
}

// --- Identities ---------------------------------------------------------

TEST_P(MetadataStoreContract, CreatedIdentityIsFound) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  IdentityRecord identity = identity_record("ServiceId-1", kAccountA, IdentityKind::kServiceId, "ci");

  ASSERT_TRUE(store().create_identity(identity));

  auto found = store().find_identity("ServiceId-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, "ServiceId-1");
  EXPECT_EQ(found->account_id, kAccountA);
  EXPECT_EQ(found->kind, IdentityKind::kServiceId);
  EXPECT_EQ(found->name, "ci");
  EXPECT_EQ(found->description, "identity ci");
  EXPECT_EQ(found->created_at, 1700000100);
  EXPECT_EQ(store().find_identity("ServiceId-2"), std::nullopt);
}

TEST_P(MetadataStoreContract, CreateIdentityUnknownAccount) {
  EXPECT_FALSE(store().create_identity(identity_record("User-1", kAccountA, IdentityKind::kUser, "alice")));

  EXPECT_EQ(store().find_identity("User-1"), std::nullopt);
}

TEST_P(MetadataStoreContract, CreateIdentityDuplicateName) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));
  ASSERT_TRUE(store().create_identity(identity_record("User-1", kAccountA, IdentityKind::kUser, "alice")));

  EXPECT_FALSE(store().create_identity(identity_record("User-2", kAccountA, IdentityKind::kUser, "alice")));
  // The name is unique per account and kind only.
  EXPECT_TRUE(store().create_identity(identity_record("ServiceId-3", kAccountA, IdentityKind::kServiceId, "alice")));
  EXPECT_TRUE(store().create_identity(identity_record("User-4", kAccountB, IdentityKind::kUser, "alice")));

  EXPECT_EQ(store().find_identity("User-2"), std::nullopt);
}

TEST_P(MetadataStoreContract, CreateIdentityDuplicateId) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_TRUE(store().create_identity(identity_record("User-1", kAccountA, IdentityKind::kUser, "alice")));

  EXPECT_FALSE(store().create_identity(identity_record("User-1", kAccountA, IdentityKind::kUser, "bob")));

  auto found = store().find_identity("User-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "alice");
}

TEST_P(MetadataStoreContract, FindIdentityByName) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));
  ASSERT_TRUE(store().create_identity(identity_record("User-1", kAccountA, IdentityKind::kUser, "alice")));
  ASSERT_TRUE(store().create_identity(identity_record("ServiceId-2", kAccountA, IdentityKind::kServiceId, "alice")));

  auto user = store().find_identity_by_name(kAccountA, IdentityKind::kUser, "alice");
  auto service_id = store().find_identity_by_name(kAccountA, IdentityKind::kServiceId, "alice");

  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(user->id, "User-1");
  ASSERT_TRUE(service_id.has_value());
  EXPECT_EQ(service_id->id, "ServiceId-2");
  EXPECT_EQ(store().find_identity_by_name(kAccountB, IdentityKind::kUser, "alice"), std::nullopt);
  EXPECT_EQ(store().find_identity_by_name(kAccountA, IdentityKind::kUser, "bob"), std::nullopt);
}

TEST_P(MetadataStoreContract, ListIdentitiesOfAccount) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));
  ASSERT_TRUE(store().create_identity(identity_record("User-1", kAccountA, IdentityKind::kUser, "alice")));
  ASSERT_TRUE(store().create_identity(identity_record("ServiceId-2", kAccountA, IdentityKind::kServiceId, "ci")));
  ASSERT_TRUE(store().create_identity(identity_record("User-3", kAccountB, IdentityKind::kUser, "bob")));

  EXPECT_THAT(identity_ids(store().list_identities(kAccountA)), UnorderedElementsAre("User-1", "ServiceId-2"));
  EXPECT_THAT(identity_ids(store().list_identities(kAccountB)), ElementsAre("User-3"));
  EXPECT_THAT(store().list_identities(kUnknownAccount), IsEmpty());
}

TEST_P(MetadataStoreContract, DeleteIdentityRemovesKeysAndPolicies) {
  IdentityRecord ci = account_with_identity(store());
  ASSERT_TRUE(store().create_identity(identity_record("User-2", kAccountA, IdentityKind::kUser, "alice")));
  ApiKeyRecord first_key = api_key_record("ApiKey-1", ci.id, 100);
  ApiKeyRecord second_key = api_key_record("ApiKey-2", ci.id, 200);
  ASSERT_TRUE(store().create_api_key(first_key));
  ASSERT_TRUE(store().create_api_key(second_key));
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-3", "User-2", 300)));
  ASSERT_TRUE(store().create_policy(policy_record("Policy-1", kAccountA, ci.id, "Writer", "")));
  ASSERT_TRUE(store().create_policy(policy_record("Policy-2", kAccountA, ci.id, "Reader", "team")));
  ASSERT_TRUE(store().create_policy(policy_record("Policy-3", kAccountA, "User-2", "Manager", "")));

  ASSERT_TRUE(store().delete_identity(ci.id));

  EXPECT_EQ(store().find_identity(ci.id), std::nullopt);
  EXPECT_EQ(store().find_api_key("ApiKey-1"), std::nullopt);
  EXPECT_EQ(store().find_api_key_by_hash(second_key.secret_hash), std::nullopt);
  EXPECT_THAT(key_ids(store().list_api_keys(kAccountA)), ElementsAre("ApiKey-3"));
  EXPECT_THAT(store().identity_policies(ci.id), IsEmpty());
  EXPECT_THAT(policy_ids(store().list_policies(kAccountA)), ElementsAre("Policy-3"));
  EXPECT_THAT(identity_ids(store().list_identities(kAccountA)), ElementsAre("User-2"));
  EXPECT_FALSE(store().delete_identity(ci.id));
}

TEST_P(MetadataStoreContract, IdentityNameFreeAfterDelete) {
  IdentityRecord ci = account_with_identity(store());
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-1", ci.id, 100)));
  ASSERT_TRUE(store().delete_identity(ci.id));

  IdentityRecord again = identity_record("ServiceId-2", kAccountA, IdentityKind::kServiceId, "ci");
  ASSERT_TRUE(store().create_identity(again));

  // The new identity inherits nothing from the old one of the same name.
  EXPECT_THAT(store().list_api_keys(kAccountA), IsEmpty());
  EXPECT_TRUE(store().create_api_key(api_key_record("ApiKey-1", again.id, 200)));
}

// --- API keys -----------------------------------------------------------

TEST_P(MetadataStoreContract, CreatedApiKeyIsFound) {
  IdentityRecord ci = account_with_identity(store());
  ApiKeyRecord key = api_key_record("ApiKey-1", ci.id, 1700000500);
  key.account_id = "ignored on create";

  ASSERT_TRUE(store().create_api_key(key));

  auto by_id = store().find_api_key("ApiKey-1");
  ASSERT_TRUE(by_id.has_value());
  EXPECT_EQ(by_id->id, "ApiKey-1");
  EXPECT_EQ(by_id->identity_id, ci.id);
  EXPECT_EQ(by_id->account_id, kAccountA);
  EXPECT_EQ(by_id->name, "key ApiKey-1");
  EXPECT_EQ(by_id->description, "description of ApiKey-1");
  EXPECT_EQ(by_id->secret_hash, key.secret_hash);
  EXPECT_EQ(by_id->created_at, 1700000500);
  EXPECT_EQ(by_id->last_used_at, 0);
  auto by_hash = store().find_api_key_by_hash(key.secret_hash);
  ASSERT_TRUE(by_hash.has_value());
  EXPECT_EQ(by_hash->id, "ApiKey-1");
  EXPECT_EQ(by_hash->account_id, kAccountA);
}

TEST_P(MetadataStoreContract, FindUnknownApiKey) {
  IdentityRecord ci = account_with_identity(store());
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-1", ci.id, 100)));

  EXPECT_EQ(store().find_api_key("ApiKey-2"), std::nullopt);
  EXPECT_EQ(store().find_api_key_by_hash(sha256_of("another secret").hex()), std::nullopt);
  EXPECT_EQ(store().find_api_key_by_hash(""), std::nullopt);
}

TEST_P(MetadataStoreContract, CreateApiKeyUnknownIdentity) {
  account_with_identity(store());

  EXPECT_FALSE(store().create_api_key(api_key_record("ApiKey-1", "User-404", 100)));

  EXPECT_EQ(store().find_api_key("ApiKey-1"), std::nullopt);
}

TEST_P(MetadataStoreContract, CreateApiKeyDuplicateHash) {
  IdentityRecord ci = account_with_identity(store());
  ApiKeyRecord first = api_key_record("ApiKey-1", ci.id, 100);
  ASSERT_TRUE(store().create_api_key(first));
  ApiKeyRecord second = api_key_record("ApiKey-2", ci.id, 200);
  second.secret_hash = first.secret_hash;

  EXPECT_FALSE(store().create_api_key(second));

  EXPECT_EQ(store().find_api_key("ApiKey-2"), std::nullopt);
  auto found = store().find_api_key_by_hash(first.secret_hash);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, "ApiKey-1");
}

TEST_P(MetadataStoreContract, CreateApiKeyDuplicateId) {
  IdentityRecord ci = account_with_identity(store());
  ApiKeyRecord first = api_key_record("ApiKey-1", ci.id, 100);
  ASSERT_TRUE(store().create_api_key(first));
  ApiKeyRecord second = api_key_record("ApiKey-1", ci.id, 200);
  second.secret_hash = sha256_of("a different secret").hex();

  EXPECT_FALSE(store().create_api_key(second));

  EXPECT_EQ(store().find_api_key_by_hash(second.secret_hash), std::nullopt);
  auto found = store().find_api_key("ApiKey-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->secret_hash, first.secret_hash);
}

TEST_P(MetadataStoreContract, ListApiKeysOldestFirst) {
  IdentityRecord ci = account_with_identity(store());
  ASSERT_TRUE(store().create_identity(identity_record("User-2", kAccountA, IdentityKind::kUser, "alice")));
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));
  ASSERT_TRUE(store().create_identity(identity_record("User-3", kAccountB, IdentityKind::kUser, "bob")));
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-c", ci.id, 300)));
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-a", "User-2", 100)));
  // Keys created in the same second are ordered by id.
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-e", ci.id, 200)));
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-d", "User-2", 200)));
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-b", "User-3", 50)));

  auto keys = store().list_api_keys(kAccountA);

  EXPECT_THAT(key_ids(keys), ElementsAre("ApiKey-a", "ApiKey-d", "ApiKey-e", "ApiKey-c"));
  for (const auto& key : keys) EXPECT_EQ(key.account_id, kAccountA) << key.id;
  EXPECT_THAT(key_ids(store().list_api_keys(kAccountB)), ElementsAre("ApiKey-b"));
  EXPECT_THAT(store().list_api_keys(kUnknownAccount), IsEmpty());
}

TEST_P(MetadataStoreContract, DeleteApiKey) {
  IdentityRecord ci = account_with_identity(store());
  ApiKeyRecord first = api_key_record("ApiKey-1", ci.id, 100);
  ASSERT_TRUE(store().create_api_key(first));
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-2", ci.id, 200)));

  EXPECT_TRUE(store().delete_api_key("ApiKey-1"));

  EXPECT_EQ(store().find_api_key("ApiKey-1"), std::nullopt);
  EXPECT_EQ(store().find_api_key_by_hash(first.secret_hash), std::nullopt);
  EXPECT_THAT(key_ids(store().list_api_keys(kAccountA)), ElementsAre("ApiKey-2"));
  EXPECT_FALSE(store().delete_api_key("ApiKey-1"));
  EXPECT_TRUE(store().find_identity(ci.id).has_value());
}

TEST_P(MetadataStoreContract, TouchApiKeyRecordsLastUse) {
  IdentityRecord ci = account_with_identity(store());
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-1", ci.id, 100)));
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-2", ci.id, 100)));

  store().touch_api_key("ApiKey-1", 1700000600);

  auto touched = store().find_api_key("ApiKey-1");
  ASSERT_TRUE(touched.has_value());
  EXPECT_EQ(touched->last_used_at, 1700000600);
  auto untouched = store().find_api_key("ApiKey-2");
  ASSERT_TRUE(untouched.has_value());
  EXPECT_EQ(untouched->last_used_at, 0);
}

TEST_P(MetadataStoreContract, TouchApiKeyNeverMovesBack) {
  IdentityRecord ci = account_with_identity(store());
  ASSERT_TRUE(store().create_api_key(api_key_record("ApiKey-1", ci.id, 100)));

  store().touch_api_key("ApiKey-1", 1700000700);
  store().touch_api_key("ApiKey-1", 1700000600);
  store().touch_api_key("ApiKey-1", 1700000700);

  auto found = store().find_api_key("ApiKey-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->last_used_at, 1700000700);
}

TEST_P(MetadataStoreContract, TouchUnknownApiKey) {
  account_with_identity(store());

  EXPECT_NO_THROW(store().touch_api_key("ApiKey-404", 1700000600));

  EXPECT_EQ(store().find_api_key("ApiKey-404"), std::nullopt);
}

// --- Access policies ----------------------------------------------------

TEST_P(MetadataStoreContract, CreatedPolicyIsListed) {
  IdentityRecord ci = account_with_identity(store());
  ASSERT_TRUE(store().create_identity(identity_record("User-2", kAccountA, IdentityKind::kUser, "alice")));
  PolicyRecord account_wide = policy_record("Policy-1", kAccountA, ci.id, "Reader", "");
  PolicyRecord on_namespace = policy_record("Policy-2", kAccountA, ci.id, "Writer", "team");
  on_namespace.created_at = 1700000300;
  PolicyRecord of_alice = policy_record("Policy-3", kAccountA, "User-2", "Manager", "");

  ASSERT_TRUE(store().create_policy(account_wide));
  ASSERT_TRUE(store().create_policy(on_namespace));
  ASSERT_TRUE(store().create_policy(of_alice));

  auto policies = store().identity_policies(ci.id);
  EXPECT_THAT(policy_ids(policies), UnorderedElementsAre("Policy-1", "Policy-2"));
  for (const auto& policy : policies) {
    SCOPED_TRACE(policy.id);
    const PolicyRecord& expected = policy.id == "Policy-1" ? account_wide : on_namespace;
    EXPECT_EQ(policy.account_id, kAccountA);
    EXPECT_EQ(policy.identity_id, ci.id);
    EXPECT_EQ(policy.role, expected.role);
    EXPECT_EQ(policy.namespace_name, expected.namespace_name);
    EXPECT_EQ(policy.created_at, expected.created_at);
  }
  EXPECT_THAT(policy_ids(store().list_policies(kAccountA)), UnorderedElementsAre("Policy-1", "Policy-2", "Policy-3"));
  EXPECT_THAT(store().list_policies(kAccountB), IsEmpty());
  EXPECT_THAT(store().identity_policies("User-404"), IsEmpty());
}

TEST_P(MetadataStoreContract, CreatePolicyDuplicateGrant) {
  IdentityRecord ci = account_with_identity(store());
  ASSERT_TRUE(store().create_policy(policy_record("Policy-1", kAccountA, ci.id, "Writer", "team")));

  EXPECT_FALSE(store().create_policy(policy_record("Policy-2", kAccountA, ci.id, "Writer", "team")));
  // Another role or another scope is another grant.
  EXPECT_TRUE(store().create_policy(policy_record("Policy-3", kAccountA, ci.id, "Reader", "team")));
  EXPECT_TRUE(store().create_policy(policy_record("Policy-4", kAccountA, ci.id, "Writer", "")));
  EXPECT_TRUE(store().create_policy(policy_record("Policy-5", kAccountA, ci.id, "Writer", "other")));

  EXPECT_THAT(policy_ids(store().identity_policies(ci.id)),
              UnorderedElementsAre("Policy-1", "Policy-3", "Policy-4", "Policy-5"));
}

TEST_P(MetadataStoreContract, CreatePolicyDuplicateId) {
  IdentityRecord ci = account_with_identity(store());
  ASSERT_TRUE(store().create_policy(policy_record("Policy-1", kAccountA, ci.id, "Writer", "team")));

  EXPECT_FALSE(store().create_policy(policy_record("Policy-1", kAccountA, ci.id, "Reader", "")));

  auto policies = store().identity_policies(ci.id);
  ASSERT_EQ(policies.size(), 1u);
  EXPECT_EQ(policies[0].role, "Writer");
}

TEST_P(MetadataStoreContract, CreatePolicyIdentityOfOtherAccount) {
  IdentityRecord ci = account_with_identity(store());
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));

  EXPECT_FALSE(store().create_policy(policy_record("Policy-1", kAccountB, ci.id, "Manager", "")));

  EXPECT_THAT(store().list_policies(kAccountB), IsEmpty());
  EXPECT_THAT(store().identity_policies(ci.id), IsEmpty());
}

TEST_P(MetadataStoreContract, CreatePolicyUnknownIdentity) {
  account_with_identity(store());

  EXPECT_FALSE(store().create_policy(policy_record("Policy-1", kAccountA, "User-404", "Reader", "")));

  EXPECT_THAT(store().list_policies(kAccountA), IsEmpty());
}

TEST_P(MetadataStoreContract, CreatePolicyInvalidRole) {
  IdentityRecord ci = account_with_identity(store());

  EXPECT_THROW(store().create_policy(policy_record("Policy-1", kAccountA, ci.id, "Administrator", "")),
               std::invalid_argument);
  EXPECT_THROW(store().create_policy(policy_record("Policy-2", kAccountA, ci.id, "reader", "")), std::invalid_argument);

  EXPECT_THAT(store().list_policies(kAccountA), IsEmpty());
}

TEST_P(MetadataStoreContract, DeletePolicy) {
  IdentityRecord ci = account_with_identity(store());
  ASSERT_TRUE(store().create_policy(policy_record("Policy-1", kAccountA, ci.id, "Writer", "team")));
  ASSERT_TRUE(store().create_policy(policy_record("Policy-2", kAccountA, ci.id, "Reader", "")));

  EXPECT_TRUE(store().delete_policy("Policy-1"));

  EXPECT_THAT(policy_ids(store().identity_policies(ci.id)), ElementsAre("Policy-2"));
  EXPECT_FALSE(store().delete_policy("Policy-1"));
  // The grant can be made again once deleted.
  EXPECT_TRUE(store().create_policy(policy_record("Policy-3", kAccountA, ci.id, "Writer", "team")));
}

// --- Namespaces ---------------------------------------------------------

TEST_P(MetadataStoreContract, CreateNamespaceResults) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));

  EXPECT_EQ(store().create_namespace(namespace_record("team", kAccountA), 3), CreateNamespaceResult::kCreated);
  EXPECT_EQ(store().create_namespace(namespace_record("team", kAccountA), 3), CreateNamespaceResult::kAlreadyOwned);
  EXPECT_EQ(store().create_namespace(namespace_record("team", kAccountB), 3),
            CreateNamespaceResult::kOwnedByOtherAccount);
  EXPECT_EQ(store().create_namespace(namespace_record("other", kUnknownAccount), 3),
            CreateNamespaceResult::kAccountUnknown);

  auto found = store().find_namespace("team");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->account_id, kAccountA);
  EXPECT_EQ(store().find_namespace("other"), std::nullopt);
}

TEST_P(MetadataStoreContract, CreateNamespaceLimit) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));
  for (const char* name : {"one", "two", "three"}) {
    ASSERT_EQ(store().create_namespace(namespace_record(name, kAccountA), 3), CreateNamespaceResult::kCreated) << name;
  }

  EXPECT_EQ(store().create_namespace(namespace_record("four", kAccountA), 3), CreateNamespaceResult::kLimitReached);
  // A namespace the account owns is reported as owned, even at the limit.
  EXPECT_EQ(store().create_namespace(namespace_record("two", kAccountA), 3), CreateNamespaceResult::kAlreadyOwned);
  // The limit counts per account.
  EXPECT_EQ(store().create_namespace(namespace_record("four", kAccountB), 3), CreateNamespaceResult::kCreated);
  EXPECT_EQ(store().create_namespace(namespace_record("five", kAccountA), 0), CreateNamespaceResult::kLimitReached);

  EXPECT_THAT(namespace_names(store().list_namespaces(kAccountA)), ElementsAre("one", "three", "two"));
  auto four = store().find_namespace("four");
  ASSERT_TRUE(four.has_value());
  EXPECT_EQ(four->account_id, kAccountB);
}

TEST_P(MetadataStoreContract, CreatedNamespaceIsFound) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  NamespaceRecord ns{.name = "team", .account_id = kAccountA, .is_public = true, .created_at = 1700000300,
                     .updated_at = 1700000400};

  ASSERT_EQ(store().create_namespace(ns, kManyNamespaces), CreateNamespaceResult::kCreated);

  auto found = store().find_namespace("team");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "team");
  EXPECT_EQ(found->account_id, kAccountA);
  EXPECT_TRUE(found->is_public);
  EXPECT_EQ(found->created_at, 1700000300);
  EXPECT_EQ(found->updated_at, 1700000400);
  EXPECT_EQ(store().find_namespace("Team"), std::nullopt);
  EXPECT_EQ(store().find_namespace("tea"), std::nullopt);
}

TEST_P(MetadataStoreContract, ListNamespacesByName) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));
  for (const char* name : {"zeta", "ab-c", "ab", "a_b"}) {
    ASSERT_EQ(store().create_namespace(namespace_record(name, kAccountA), kManyNamespaces),
              CreateNamespaceResult::kCreated);
  }
  ASSERT_EQ(store().create_namespace(namespace_record("beta-team", kAccountB), kManyNamespaces),
            CreateNamespaceResult::kCreated);

  EXPECT_THAT(namespace_names(store().list_namespaces(kAccountA)), ElementsAre("a_b", "ab", "ab-c", "zeta"));
  EXPECT_THAT(namespace_names(store().list_namespaces(kAccountB)), ElementsAre("beta-team"));
  EXPECT_THAT(store().list_namespaces(kUnknownAccount), IsEmpty());
}

TEST_P(MetadataStoreContract, NamespacePublicFlag) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));
  for (const char* name : {"team", "open"}) {
    ASSERT_EQ(store().create_namespace(namespace_record(name, kAccountA), kManyNamespaces),
              CreateNamespaceResult::kCreated);
  }
  ASSERT_EQ(store().create_namespace(namespace_record("docs", kAccountB), kManyNamespaces),
            CreateNamespaceResult::kCreated);
  EXPECT_THAT(store().list_public_namespaces(), IsEmpty());
  std::int64_t before = core::unix_now();

  EXPECT_TRUE(store().set_namespace_public("open", true));
  EXPECT_TRUE(store().set_namespace_public("docs", true));

  auto open = store().find_namespace("open");
  ASSERT_TRUE(open.has_value());
  EXPECT_TRUE(open->is_public);
  EXPECT_EQ(open->created_at, 1700000300);
  EXPECT_GE(open->updated_at, before);
  EXPECT_LE(open->updated_at, core::unix_now());
  auto team = store().find_namespace("team");
  ASSERT_TRUE(team.has_value());
  EXPECT_FALSE(team->is_public);
  EXPECT_THAT(namespace_names(store().list_public_namespaces()), ElementsAre("docs", "open"));

  EXPECT_TRUE(store().set_namespace_public("docs", false));
  EXPECT_THAT(namespace_names(store().list_public_namespaces()), ElementsAre("open"));
  EXPECT_FALSE(store().set_namespace_public("unknown", true));
  EXPECT_EQ(store().find_namespace("unknown"), std::nullopt);
}

TEST_P(MetadataStoreContract, DeleteUnknownNamespace) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_EQ(store().create_namespace(namespace_record("team", kAccountA), kManyNamespaces),
            CreateNamespaceResult::kCreated);
  // A repository whose first component was never created as a namespace.
  ManifestWrite image = push_image(store(), "library/alpine");

  EXPECT_FALSE(store().delete_namespace("library"));
  EXPECT_FALSE(store().delete_namespace("tea"));

  EXPECT_TRUE(store().repository_exists("library/alpine"));
  EXPECT_TRUE(store().find_manifest("library/alpine", image.digest).has_value());
  EXPECT_TRUE(store().find_namespace("team").has_value());
}

TEST_P(MetadataStoreContract, DeleteNamespaceRemovesRepositories) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  for (const char* name : {"ns1", "ns1x", "ns10"}) {
    ASSERT_EQ(store().create_namespace(namespace_record(name, kAccountA), kManyNamespaces),
              CreateNamespaceResult::kCreated);
  }
  const std::vector<std::string> in_namespace = {"ns1/app", "ns1/app/sub"};
  // Neighbours in byte order: "ns1/" < "ns10/" < "ns1x/".
  const std::vector<std::string> neighbours = {"ns1x/app", "ns10/app"};
  std::vector<ManifestWrite> images;
  for (const auto& repository : in_namespace) images.push_back(push_image(store(), repository));
  for (const auto& repository : neighbours) images.push_back(push_image(store(), repository));
  // Read everything once, so that a caching store caches it.
  for (const auto& image : images) {
    ASSERT_TRUE(store().find_manifest(image.repository, image.digest).has_value()) << image.repository;
    ASSERT_TRUE(store().find_tagged_manifest(image.repository, "latest").has_value()) << image.repository;
    for (const auto& layer : image.blob_references) {
      ASSERT_TRUE(store().find_repository_blob(image.repository, layer).has_value()) << image.repository;
    }
  }

  ASSERT_TRUE(store().delete_namespace("ns1"));

  for (int round = 0; round <= 1; ++round) {
    SCOPED_TRACE(round == 0 ? "after delete" : "after reopen");
    if (round == 1) {
      ASSERT_NO_THROW(reopen());
    }

    EXPECT_EQ(store().find_namespace("ns1"), std::nullopt);
    for (const auto& image : images) {
      SCOPED_TRACE(image.repository);
      bool in_deleted_namespace = image.repository.starts_with("ns1/");
      EXPECT_EQ(store().repository_exists(image.repository), !in_deleted_namespace);
      EXPECT_EQ(store().find_manifest(image.repository, image.digest).has_value(), !in_deleted_namespace);
      EXPECT_EQ(store().find_tagged_manifest(image.repository, "latest").has_value(), !in_deleted_namespace);
      EXPECT_EQ(store().list_tags(image.repository, "", 10).has_value(), !in_deleted_namespace);
      for (const auto& layer : image.blob_references) {
        EXPECT_EQ(store().find_repository_blob(image.repository, layer).has_value(), !in_deleted_namespace);
      }
      EXPECT_EQ(store().manifest_blob_references(image.repository, image.digest).empty(), in_deleted_namespace);
    }
    EXPECT_THAT(store().list_repositories("", 100).names, ElementsAre("ns10/app", "ns1x/app"));
    std::vector<std::string> manifest_repositories;
    for (const auto& manifest : store().list_manifests()) manifest_repositories.push_back(manifest.repository);
    EXPECT_THAT(manifest_repositories, ElementsAre("ns10/app", "ns1x/app"));
    EXPECT_TRUE(store().find_namespace("ns10").has_value());
    EXPECT_TRUE(store().find_namespace("ns1x").has_value());
  }
}

TEST_P(MetadataStoreContract, DeleteNamespaceKeepsBlobRecords) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_EQ(store().create_namespace(namespace_record("ns1", kAccountA), kManyNamespaces),
            CreateNamespaceResult::kCreated);
  ManifestWrite image = push_image(store(), "ns1/app");

  ASSERT_TRUE(store().delete_namespace("ns1"));

  // Blob rows outlive their links, because other repositories may link the
  // same blobs.
  std::vector<Digest> recorded;
  for (const auto& blob : store().list_blobs()) recorded.push_back(blob.digest);
  EXPECT_THAT(recorded, UnorderedElementsAre(image.blob_references[0], image.blob_references[1]));
}

TEST_P(MetadataStoreContract, DeleteNamespaceUnderscoreIsLiteral) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_EQ(store().create_namespace(namespace_record("a_b", kAccountA), kManyNamespaces),
            CreateNamespaceResult::kCreated);
  push_image(store(), "a_b/app");
  // As a LIKE pattern, "a_b/%" would match this name as well.
  ManifestWrite neighbour = push_image(store(), "axb/app");

  ASSERT_TRUE(store().delete_namespace("a_b"));

  EXPECT_FALSE(store().repository_exists("a_b/app"));
  EXPECT_TRUE(store().repository_exists("axb/app"));
  EXPECT_TRUE(store().find_manifest("axb/app", neighbour.digest).has_value());
}

TEST_P(MetadataStoreContract, DeleteNamespaceRemovesUploads) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_EQ(store().create_namespace(namespace_record("ns1", kAccountA), kManyNamespaces),
            CreateNamespaceResult::kCreated);
  for (const auto& [id, repository] : std::vector<std::pair<std::string, std::string>>{
           {"upload-1", "ns1/app"}, {"upload-2", "ns1/app/sub"}, {"upload-3", "ns10/app"}, {"upload-4", "ns1"}}) {
    store().create_upload(UploadRecord{.id = id,
                                       .repository = repository,
                                       .algorithm = core::DigestAlgorithm::kSha256,
                                       .hash_state = "initial state",
                                       .created_at = 1700000000,
                                       .updated_at = 1700000000});
  }

  ASSERT_TRUE(store().delete_namespace("ns1"));

  EXPECT_EQ(store().find_upload("upload-1"), std::nullopt);
  EXPECT_EQ(store().find_upload("upload-2"), std::nullopt);
  EXPECT_TRUE(store().find_upload("upload-3").has_value());
  EXPECT_TRUE(store().find_upload("upload-4").has_value());
}

TEST_P(MetadataStoreContract, DeleteNamespaceRemovesItsPolicies) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_TRUE(store().create_identity(identity_record("User-1", kAccountA, IdentityKind::kUser, "ada")));
  ASSERT_EQ(store().create_namespace(namespace_record("ns1", kAccountA), kManyNamespaces),
            CreateNamespaceResult::kCreated);
  ASSERT_EQ(store().create_namespace(namespace_record("ns10", kAccountA), kManyNamespaces),
            CreateNamespaceResult::kCreated);
  ASSERT_TRUE(store().create_policy(policy_record("policy-ns1", kAccountA, "User-1", "Writer", "ns1")));
  ASSERT_TRUE(store().create_policy(policy_record("policy-ns10", kAccountA, "User-1", "Writer", "ns10")));
  ASSERT_TRUE(store().create_policy(policy_record("policy-account", kAccountA, "User-1", "Reader", "")));

  ASSERT_TRUE(store().delete_namespace("ns1"));

  std::vector<std::string> remaining;
  for (const auto& policy : store().identity_policies("User-1")) remaining.push_back(policy.id);
  std::sort(remaining.begin(), remaining.end());
  EXPECT_EQ(remaining, (std::vector<std::string>{"policy-account", "policy-ns10"}));
}

TEST_P(MetadataStoreContract, DeletedNamespaceCanBeRecreated) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));
  ASSERT_EQ(store().create_namespace(namespace_record("ns1", kAccountA), 1), CreateNamespaceResult::kCreated);
  ASSERT_TRUE(store().set_namespace_public("ns1", true));
  ManifestWrite image = push_image(store(), "ns1/app");
  ASSERT_TRUE(store().find_tagged_manifest("ns1/app", "latest").has_value());
  ASSERT_TRUE(store().delete_namespace("ns1"));

  EXPECT_EQ(store().create_namespace(namespace_record("ns1", kAccountB), 1), CreateNamespaceResult::kCreated);

  auto found = store().find_namespace("ns1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->account_id, kAccountB);
  EXPECT_FALSE(found->is_public);
  EXPECT_THAT(store().list_namespace_repositories({"ns1"}, "", 10).names, IsEmpty());
  EXPECT_FALSE(store().repository_exists("ns1/app"));
  EXPECT_EQ(store().find_manifest("ns1/app", image.digest), std::nullopt);
  EXPECT_EQ(store().find_tagged_manifest("ns1/app", "latest"), std::nullopt);
  EXPECT_THAT(store().list_namespaces(kAccountA), IsEmpty());
  // The deleted namespace no longer counts against the old account's limit.
  EXPECT_EQ(store().create_namespace(namespace_record("ns2", kAccountA), 1), CreateNamespaceResult::kCreated);
}

TEST_P(MetadataStoreContract, CreateNamespaceDropsLeftoverRepositories) {
  ASSERT_TRUE(store().create_account(account_record(kAccountA, "alpha")));
  ASSERT_TRUE(store().create_account(account_record(kAccountB, "beta")));
  ASSERT_EQ(store().create_namespace(namespace_record("ns1", kAccountA), kManyNamespaces),
            CreateNamespaceResult::kCreated);
  ASSERT_TRUE(store().delete_namespace("ns1"));
  // An upload of the old owner that finishes after the delete links its
  // blob under the old name, and reads go through the cache.
  store().link_blob("ns1/app", sha256_of("late layer"), 10);
  store().link_blob("ns10/app", sha256_of("neighbour"), 9);
  ASSERT_TRUE(store().find_repository_blob("ns1/app", sha256_of("late layer")).has_value());

  ASSERT_EQ(store().create_namespace(namespace_record("ns1", kAccountB), kManyNamespaces),
            CreateNamespaceResult::kCreated);

  EXPECT_FALSE(store().repository_exists("ns1/app"));
  EXPECT_EQ(store().find_repository_blob("ns1/app", sha256_of("late layer")), std::nullopt);
  EXPECT_TRUE(store().find_repository_blob("ns10/app", sha256_of("neighbour")).has_value());
}

TEST_P(MetadataStoreContract, ListNamespaceRepositoriesFilters) {
  // In byte order '-' < '/' < letters, so "ab-c/x" sorts before "ab/x".
  for (const char* name : {"ab/x", "ab/y/z", "ab-c/x", "abc/x", "ab", "a/x", "zz/x", "ab-c"}) {
    store().link_blob(name, sha256_of("layer"), 5);
  }

  NamePage page = store().list_namespace_repositories({"ab", "ab-c"}, "", 100);

  EXPECT_THAT(page.names, ElementsAre("ab-c/x", "ab/x", "ab/y/z"));
  EXPECT_FALSE(page.more);
  EXPECT_THAT(store().list_namespace_repositories({"abc"}, "", 100).names, ElementsAre("abc/x"));
  EXPECT_THAT(store().list_namespace_repositories({"unknown"}, "", 100).names, IsEmpty());
}

TEST_P(MetadataStoreContract, ListNamespaceRepositoriesPaging) {
  for (const char* name : {"ab/x", "ab/y", "ab-c/x", "ab-c/y", "abc/x", "zz/x"}) {
    store().link_blob(name, sha256_of("layer"), 5);
  }
  const std::vector<std::string> namespaces = {"ab", "ab-c", "zz"};

  NamePage first = store().list_namespace_repositories(namespaces, "", 2);
  NamePage second = store().list_namespace_repositories(namespaces, "ab-c/y", 2);
  NamePage last = store().list_namespace_repositories(namespaces, "ab/y", 2);

  EXPECT_THAT(first.names, ElementsAre("ab-c/x", "ab-c/y"));
  EXPECT_TRUE(first.more);
  EXPECT_THAT(second.names, ElementsAre("ab/x", "ab/y"));
  EXPECT_TRUE(second.more);
  EXPECT_THAT(last.names, ElementsAre("zz/x"));
  EXPECT_FALSE(last.more);
}

TEST_P(MetadataStoreContract, ListNamespaceRepositoriesAfterUnknownName) {
  for (const char* name : {"ab/x", "ab-c/x", "zz/x"}) store().link_blob(name, sha256_of("layer"), 5);
  const std::vector<std::string> namespaces = {"ab", "ab-c", "zz"};

  // "ab-d" lies between the two namespaces, "ab/w" inside one.
  EXPECT_THAT(store().list_namespace_repositories(namespaces, "ab-d", 10).names, ElementsAre("ab/x", "zz/x"));
  EXPECT_THAT(store().list_namespace_repositories(namespaces, "ab/w", 10).names, ElementsAre("ab/x", "zz/x"));
  EXPECT_THAT(store().list_namespace_repositories(namespaces, "zz/x", 10).names, IsEmpty());
}

TEST_P(MetadataStoreContract, ListNamespaceRepositoriesExactFit) {
  for (const char* name : {"ab/x", "ab-c/x", "zz/x"}) store().link_blob(name, sha256_of("layer"), 5);

  NamePage page = store().list_namespace_repositories({"ab", "ab-c"}, "", 2);

  EXPECT_THAT(page.names, ElementsAre("ab-c/x", "ab/x"));
  EXPECT_FALSE(page.more);
}

TEST_P(MetadataStoreContract, ListNamespaceRepositoriesEmptyList) {
  store().link_blob("ab/x", sha256_of("layer"), 5);

  NamePage page = store().list_namespace_repositories({}, "", 10);

  EXPECT_THAT(page.names, IsEmpty());
  EXPECT_FALSE(page.more);
}

TEST_P(MetadataStoreContract, ListNamespaceRepositoriesLimits) {
  for (const char* name : {"ab/x", "ab/y"}) store().link_blob(name, sha256_of("layer"), 5);

  NamePage none = store().list_namespace_repositories({"ab"}, "", 0);
  NamePage all = store().list_namespace_repositories({"ab"}, "", std::numeric_limits<std::size_t>::max());

  EXPECT_THAT(none.names, IsEmpty());
  EXPECT_TRUE(none.more);
  EXPECT_THAT(all.names, ElementsAre("ab/x", "ab/y"));
  EXPECT_FALSE(all.more);
}

TEST_P(MetadataStoreContract, ListNamespaceRepositoriesRepeatedNamespace) {
  for (const char* name : {"ab/x", "ab/y"}) store().link_blob(name, sha256_of("layer"), 5);

  NamePage page = store().list_namespace_repositories({"ab", "ab"}, "", 10);

  EXPECT_THAT(page.names, ElementsAre("ab/x", "ab/y"));
  EXPECT_FALSE(page.more);
}

// --- Persistence and concurrency ----------------------------------------

TEST_P(MetadataStoreContract, ReopenKeepsTenants) {
  IdentityRecord ci = account_with_identity(store());
  ApiKeyRecord key = api_key_record("ApiKey-1", ci.id, 100);
  ASSERT_TRUE(store().create_api_key(key));
  store().touch_api_key("ApiKey-1", 1700000600);
  ASSERT_TRUE(store().create_policy(policy_record("Policy-1", kAccountA, ci.id, "Writer", "team")));
  ASSERT_EQ(store().create_namespace(namespace_record("team", kAccountA), kManyNamespaces),
            CreateNamespaceResult::kCreated);
  ASSERT_TRUE(store().set_namespace_public("team", true));

  ASSERT_NO_THROW(reopen());

  EXPECT_TRUE(store().find_account(kAccountA).has_value());
  EXPECT_TRUE(store().find_identity_by_name(kAccountA, IdentityKind::kServiceId, "ci").has_value());
  auto found_key = store().find_api_key_by_hash(key.secret_hash);
  ASSERT_TRUE(found_key.has_value());
  EXPECT_EQ(found_key->last_used_at, 1700000600);
  EXPECT_THAT(policy_ids(store().identity_policies(ci.id)), ElementsAre("Policy-1"));
  EXPECT_THAT(namespace_names(store().list_public_namespaces()), ElementsAre("team"));
}

TEST_P(MetadataStoreContract, ConcurrentCreateNamespace) {
  constexpr int kThreads = 8;
  for (const auto& [id, name] : std::vector<std::pair<std::string, std::string>>{
           {kAccountA, "alpha"}, {kAccountB, "beta"}, {kAccountC, "gamma"}}) {
    ASSERT_TRUE(store().create_account(account_record(id, name)));
  }
  std::latch start(kThreads);
  std::mutex results_mutex;
  std::vector<CreateNamespaceResult> limited_results;  // account A, distinct names, at most 3
  std::vector<CreateNamespaceResult> shared_results;   // accounts B and C, one name
  std::vector<std::string> failures;

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        start.arrive_and_wait();
        auto limited = store().create_namespace(namespace_record("team-" + std::to_string(t), kAccountA), 3);
        auto shared = store().create_namespace(namespace_record("shared", t % 2 == 0 ? kAccountB : kAccountC),
                                               kManyNamespaces);
        std::lock_guard<std::mutex> lock(results_mutex);
        limited_results.push_back(limited);
        shared_results.push_back(shared);
      } catch (const std::exception& error) {
        std::lock_guard<std::mutex> lock(results_mutex);
        failures.push_back(error.what());
      }
    });
  }
  for (auto& thread : threads) thread.join();

  ASSERT_THAT(failures, IsEmpty());
  auto count = [](const std::vector<CreateNamespaceResult>& results, CreateNamespaceResult value) {
    return std::count(results.begin(), results.end(), value);
  };
  EXPECT_EQ(count(limited_results, CreateNamespaceResult::kCreated), 3);
  EXPECT_EQ(count(limited_results, CreateNamespaceResult::kLimitReached), kThreads - 3);
  EXPECT_EQ(store().list_namespaces(kAccountA).size(), 3u);

  auto owner = store().find_namespace("shared");
  ASSERT_TRUE(owner.has_value());
  bool owned_by_b = owner->account_id == kAccountB;
  EXPECT_EQ(count(shared_results, CreateNamespaceResult::kCreated), 1);
  // The winner's other threads see their own namespace, the loser's see
  // another account's.
  EXPECT_EQ(count(shared_results, CreateNamespaceResult::kAlreadyOwned), kThreads / 2 - 1);
  EXPECT_EQ(count(shared_results, CreateNamespaceResult::kOwnedByOtherAccount), kThreads / 2);
  EXPECT_THAT(namespace_names(store().list_namespaces(owned_by_b ? kAccountB : kAccountC)), ElementsAre("shared"));
  EXPECT_THAT(store().list_namespaces(owned_by_b ? kAccountC : kAccountB), IsEmpty());
}

}  // namespace

// --- CachedStore --------------------------------------------------------

namespace {

class CachedStoreNamespaceTest : public ::testing::Test {
 protected:
  CachedStoreNamespaceTest() {
    auto sqlite = std::make_unique<metadata::SqliteStore>(
        metadata::SqliteOptions{.path = (directory_.path() / "metadata.db").string()});
    inner_ = sqlite.get();
    cached_ = std::make_unique<metadata::CachedStore>(std::move(sqlite), 1 << 20);
  }

  test_support::TempDirectory directory_;
  metadata::SqliteStore* inner_ = nullptr;  // owned by cached_
  std::unique_ptr<metadata::CachedStore> cached_;
};

TEST_F(CachedStoreNamespaceTest, DeleteDropsCachedEntries) {
  ASSERT_TRUE(cached_->create_account(account_record(kAccountA, "alpha")));
  for (const char* name : {"ns1", "ns10"}) {
    ASSERT_EQ(cached_->create_namespace(namespace_record(name, kAccountA), kManyNamespaces),
              CreateNamespaceResult::kCreated);
  }
  ManifestWrite deleted = push_image(*cached_, "ns1/app");
  ManifestWrite neighbour = push_image(*cached_, "ns10/app");
  for (const auto& image : {deleted, neighbour}) {
    ASSERT_TRUE(cached_->find_manifest(image.repository, image.digest).has_value());
    ASSERT_TRUE(cached_->find_tagged_manifest(image.repository, "latest").has_value());
    ASSERT_TRUE(cached_->find_repository_blob(image.repository, image.blob_references[1]).has_value());
  }

  ASSERT_TRUE(cached_->delete_namespace("ns1"));

  EXPECT_EQ(cached_->find_manifest("ns1/app", deleted.digest), std::nullopt);
  EXPECT_EQ(cached_->find_tagged_manifest("ns1/app", "latest"), std::nullopt);
  EXPECT_EQ(cached_->find_repository_blob("ns1/app", deleted.blob_references[1]), std::nullopt);

  // A delete that bypasses the cache leaves its entries in place. So the
  // entries of "ns10/app" that are still served show that they were cached
  // and that deleting "ns1" kept them.
  ASSERT_TRUE(inner_->delete_namespace("ns10"));
  ASSERT_EQ(inner_->find_manifest("ns10/app", neighbour.digest), std::nullopt);
  EXPECT_TRUE(cached_->find_manifest("ns10/app", neighbour.digest).has_value());
  EXPECT_TRUE(cached_->find_tagged_manifest("ns10/app", "latest").has_value());
  EXPECT_TRUE(cached_->find_repository_blob("ns10/app", neighbour.blob_references[1]).has_value());
}

// --- Schema migration ---------------------------------------------------

// A database written by a berthd before the tenant tables existed must
// keep its images and gain the tenant tables when opened.
TEST(SqliteTenantMigration, UpgradesVersionOneDatabase) {
  test_support::TempDirectory directory;
  std::string path = (directory.path() / "metadata.db").string();
  {
    metadata::SqliteConnection connection(path);
    connection.exec(metadata::sqlite_migrations()[0]);
    connection.exec("PRAGMA user_version = 1");
    connection.exec("INSERT INTO repositories (name, created_at) VALUES ('ns1/app', 1700000000)");
  }

  metadata::SqliteStore store(metadata::SqliteOptions{.path = path});

  {
    metadata::SqliteConnection connection(path);
    auto query = connection.prepare("PRAGMA user_version");
    ASSERT_TRUE(query.step());
    EXPECT_EQ(query.column_int(0), metadata::SqliteStore::schema_version());
  }
  EXPECT_TRUE(store.repository_exists("ns1/app"));
  ASSERT_TRUE(store.create_account(account_record(kAccountA, "alpha")));
  EXPECT_EQ(store.create_namespace(namespace_record("ns1", kAccountA), kManyNamespaces),
            CreateNamespaceResult::kCreated);
  EXPECT_THAT(store.list_namespace_repositories({"ns1"}, "", 10).names, ElementsAre("ns1/app"));
}

}  // namespace
}  // namespace berth::store_tests
