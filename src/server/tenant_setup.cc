#include "server/tenant_setup.h"

#include "auth/credentials.h"
#include "auth/tenants.h"
#include "core/error.h"
#include "core/logging.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <stdexcept>

namespace berth::server {

using core::Error;
using core::ErrorCode;

namespace {

const auth::AuditContext kAdminContext{.actor = "berthd-admin", .client = "local"};

// Writes `text` to a new file that only the owner may read.
void write_private_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + temporary.string());
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), path.c_str()) != 0) {
    ::unlink(temporary.c_str());
    throw std::runtime_error("cannot write " + path.string());
  }
}

metadata::AccountRecord require_account(metadata::MetadataStore& store, const std::string& name) {
  if (name.empty()) throw Error(ErrorCode::kBadRequest, "name the account with --account NAME");
  auto account = store.find_account_by_name(name);
  if (!account) {
    throw Error(ErrorCode::kNotFound, "no account named '" + name + "'; list them with 'berthd admin account-list'");
  }
  return *account;
}

metadata::IdentityRecord require_identity(metadata::MetadataStore& store, const AdminRequest& request) {
  metadata::AccountRecord account = require_account(store, request.account);
  if (request.user.empty() == request.service_id.empty()) {
    throw Error(ErrorCode::kBadRequest, "name the identity with exactly one of --user NAME and --serviceid NAME");
  }
  auto kind = request.user.empty() ? metadata::IdentityKind::kServiceId : metadata::IdentityKind::kUser;
  const std::string& name = request.user.empty() ? request.service_id : request.user;
  auto identity = store.find_identity_by_name(account.id, kind, name);
  if (!identity) {
    throw Error(ErrorCode::kNotFound, "account '" + account.name + "' has no " +
                                          std::string(auth::identity_kind_name(kind)) + " named '" + name + "'");
  }
  return *identity;
}

// Gives the account the namespaces of repositories stored before accounts
// existed (a data directory from an earlier berthd), so that its images
// stay reachable. Names that are not valid namespaces stay unowned.
void adopt_repositories(metadata::MetadataStore& store, auth::Tenants& tenants, const std::string& account_id) {
  std::set<std::string> names;
  std::string after;
  while (true) {
    metadata::NamePage page = store.list_repositories(after, 1000);
    for (const auto& repository : page.names) names.emplace(auth::namespace_of(repository));
    if (!page.more || page.names.empty()) break;
    after = page.names.back();
  }
  for (const auto& name : names) {
    if (auto problem = auth::namespace_name_problem(name)) {
      spdlog::warn("namespace_not_adopted namespace={} reason={}", core::log_value(name), core::log_value(*problem));
      continue;
    }
    try {
      tenants.create_namespace(account_id, name, kAdminContext);
    } catch (const Error& error) {
      spdlog::warn("namespace_not_adopted namespace={} reason={}", core::log_value(name), core::log_value(error.what()));
    }
  }
}

}  // namespace

auth::KeySet load_token_keys(const Config& config) {
  std::string path = config.auth_signing_key;
  if (path.empty()) path = (std::filesystem::path(config.data_dir) / "keys" / "token-signing.pem").string();
  auth::SigningKey signer = auth::load_or_create_signing_key(path);

  std::vector<auth::SigningKey> accepted;
  std::string_view list = config.auth_accepted_keys;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string file(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (file.empty()) continue;
    std::FILE* stream = std::fopen(file.c_str(), "rb");
    if (!stream) throw std::runtime_error("auth.accepted_keys: cannot read " + file);
    std::string pem;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, stream)) > 0) pem.append(buffer, n);
    std::fclose(stream);
    try {
      accepted.push_back(auth::SigningKey::from_pem(pem));
    } catch (const std::invalid_argument& error) {
      throw std::runtime_error("auth.accepted_keys: " + file + ": " + error.what());
    }
  }
  return auth::KeySet(std::move(signer), std::move(accepted));
}

std::optional<std::string> bootstrap_default_account(metadata::MetadataStore& store, const std::string& data_dir) {
  if (!store.list_accounts().empty()) return std::nullopt;
  auth::Tenants tenants(store);
  auto account = tenants.create_account("default", "lite", kAdminContext);
  auto admin = tenants.create_identity(account.id, metadata::IdentityKind::kUser, "admin",
                                       "created on first start", kAdminContext);
  tenants.create_policy(admin, "Manager", "", kAdminContext);
  auto key = tenants.create_api_key(admin, "initial", "created on first start", kAdminContext);
  write_private_file(std::filesystem::path(data_dir) / "initial-apikey", key.secret + "\n");
  adopt_repositories(store, tenants, account.id);
  return key.secret;
}

int admin_account_create(metadata::MetadataStore& store, const AdminRequest& request, std::ostream& out) {
  auto account = auth::Tenants(store).create_account(request.name, request.plan, kAdminContext);
  out << "Created account '" << account.name << "' (" << account.id << ") on the " << account.plan << " plan.\n";
  return 0;
}

int admin_identity_create(metadata::MetadataStore& store, const AdminRequest& request, metadata::IdentityKind kind,
                          std::ostream& out) {
  auto account = require_account(store, request.account);
  auto identity = auth::Tenants(store).create_identity(account.id, kind, request.name, request.description, kAdminContext);
  out << "Created " << (kind == metadata::IdentityKind::kUser ? "user" : "service ID") << " '" << identity.name
      << "' (" << identity.id << ") in account '" << account.name << "'.\n";
  return 0;
}

int admin_policy_add(metadata::MetadataStore& store, const AdminRequest& request, std::ostream& out) {
  auto identity = require_identity(store, request);
  auto policy = auth::Tenants(store).create_policy(identity, request.role, request.namespace_name, kAdminContext);
  out << "Granted " << policy.role << " on "
      << (policy.namespace_name.empty() ? "the account" : "namespace '" + policy.namespace_name + "'") << " to '"
      << identity.name << "' (policy " << policy.id << ").\n";
  return 0;
}

int admin_apikey_create(metadata::MetadataStore& store, const AdminRequest& request, std::ostream& out) {
  auto identity = require_identity(store, request);
  std::string name = request.name.empty() ? "admin-created" : request.name;
  auto key = auth::Tenants(store).create_api_key(identity, name, request.description, kAdminContext);
  out << "Created API key '" << key.record.name << "' (" << key.record.id << ") for '" << identity.name
      << "'. Copy it now; it is not shown again:\n"
      << key.secret << "\n";
  return 0;
}

int admin_namespace_add(metadata::MetadataStore& store, const AdminRequest& request, std::ostream& out) {
  auto account = require_account(store, request.account);
  bool created = auth::Tenants(store).create_namespace(account.id, request.name, kAdminContext);
  if (request.is_public) store.set_namespace_public(request.name, true);
  out << (created ? "Added" : "Account already owns") << " namespace '" << request.name << "'"
      << (request.is_public ? " (public: anyone may pull)" : "") << " in account '" << account.name << "'.\n";
  return 0;
}

int admin_account_list(metadata::MetadataStore& store, std::ostream& out) {
  out << "NAME\tID\tPLAN\tNAMESPACES\n";
  for (const auto& account : store.list_accounts()) {
    out << account.name << "\t" << account.id << "\t" << account.plan << "\t" << store.list_namespaces(account.id).size()
        << "\n";
  }
  return 0;
}

}  // namespace berth::server
