// Token scopes in the form of the Docker registry token specification:
// "type:name:action[,action...]".
#include "auth/scope.h"

#include <gmock/gmock.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

ResourceScope scope_of(std::string type, std::string name, std::vector<std::string> actions) {
  return ResourceScope{.type = std::move(type), .name = std::move(name), .actions = std::move(actions)};
}

TEST(ScopeParse, OneAction) {
  auto scope = parse_scope("repository:a/b:pull");

  ASSERT_TRUE(scope.has_value());
  EXPECT_EQ(scope->type, "repository");
  EXPECT_EQ(scope->name, "a/b");
  EXPECT_THAT(scope->actions, ElementsAre("pull"));
}

TEST(ScopeParse, TwoActionsKeepOrder) {
  EXPECT_EQ(parse_scope("repository:a/b:pull,push"), scope_of("repository", "a/b", {"pull", "push"}));
  EXPECT_EQ(parse_scope("repository:a/b:push,pull"), scope_of("repository", "a/b", {"push", "pull"}));
}

TEST(ScopeParse, Wildcard) {
  EXPECT_EQ(parse_scope("repository:a/b:*"), scope_of("repository", "a/b", {"*"}));
  EXPECT_EQ(parse_scope("repository:a/b:pull,*"), scope_of("repository", "a/b", {"pull", "*"}));
}

TEST(ScopeParse, NameWithHostAndPort) {
  auto scope = parse_scope("repository:localhost:5000/a/b:pull");

  ASSERT_TRUE(scope.has_value());
  EXPECT_EQ(scope->type, "repository");
  EXPECT_EQ(scope->name, "localhost:5000/a/b");
  EXPECT_THAT(scope->actions, ElementsAre("pull"));
}

TEST(ScopeParse, NameWithHostAndPortSeveralActions) {
  EXPECT_EQ(parse_scope("repository:registry.example:443/team/app:pull,push"),
            scope_of("repository", "registry.example:443/team/app", {"pull", "push"}));
}

TEST(ScopeParse, RegistryCatalog) {
  EXPECT_EQ(parse_scope("registry:catalog:*"), scope_of("registry", "catalog", {"*"}));
}

TEST(ScopeParse, ResourceTypeWithPluginClass) {
  EXPECT_EQ(parse_scope("repository(plugin):a/b:pull"), scope_of("repository(plugin)", "a/b", {"pull"}));
  EXPECT_EQ(parse_scope("repository(v2):a/b:pull"), scope_of("repository(v2)", "a/b", {"pull"}));
}

TEST(ScopeParse, MalformedResourceTypesRejected) {
  for (std::string_view text : {"Repository:a/b:pull", "repo sitory:a/b:pull", "repository(:a/b:pull",
                                "repository():a/b:pull", "repository(plugin:a/b:pull", "(plugin):a/b:pull",
                                "repository(Plugin):a/b:pull", "repository(plugin)x:a/b:pull",
                                "repository(a)(b):a/b:pull", "re-po:a/b:pull"}) {
    EXPECT_EQ(parse_scope(text), std::nullopt) << text;
  }
}

TEST(ScopeParse, DuplicateActionsCollapsed) {
  EXPECT_EQ(parse_scope("repository:a/b:pull,pull"), scope_of("repository", "a/b", {"pull"}));
  EXPECT_EQ(parse_scope("repository:a/b:pull,push,pull,push"), scope_of("repository", "a/b", {"pull", "push"}));
  EXPECT_EQ(parse_scope("repository:a/b:*,*"), scope_of("repository", "a/b", {"*"}));
}

TEST(ScopeParse, EmptyNameRejected) {
  EXPECT_EQ(parse_scope("repository::pull"), std::nullopt);
}

TEST(ScopeParse, MissingPartsRejected) {
  for (std::string_view text : {"", "repository", "repository:a/b", ":a/b:pull", "repository:", ":", "::"}) {
    EXPECT_EQ(parse_scope(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(ScopeParse, EmptyActionRejected) {
  for (std::string_view text : {"repository:a/b:", "repository:a/b:,", "repository:a/b:,pull",
                                "repository:a/b:pull,,push"}) {
    EXPECT_EQ(parse_scope(text), std::nullopt) << text;
  }
}

TEST(ScopeParse, UppercaseActionRejected) {
  EXPECT_EQ(parse_scope("repository:a/b:PULL"), std::nullopt);
  EXPECT_EQ(parse_scope("repository:a/b:pull,Push"), std::nullopt);
}

TEST(ScopeParse, TrailingCommaRejected) {
  EXPECT_EQ(parse_scope("repository:a/b:pull,"), std::nullopt);
  EXPECT_EQ(parse_scope("repository:a/b:pull,push,"), std::nullopt);
}

TEST(ScopeParse, ActionWithOtherCharactersRejected) {
  for (std::string_view text : {"repository:a/b:pu-ll", "repository:a/b:pull1", "repository:a/b:pull push",
                                "repository:a/b:**", "repository:a/b:pull*"}) {
    EXPECT_EQ(parse_scope(text), std::nullopt) << text;
  }
}

TEST(ScopeParse, NameNotValidatedHere) {
  // Repository grammar is checked where access is granted, not here.
  EXPECT_EQ(parse_scope("repository:UPPER/Case:pull"), scope_of("repository", "UPPER/Case", {"pull"}));
}

TEST(ScopeParseMany, SeveralValues) {
  auto scopes = parse_scopes({"repository:a/b:pull", "repository:c/d:push", "registry:catalog:*"});

  EXPECT_THAT(scopes, ElementsAre(scope_of("repository", "a/b", {"pull"}), scope_of("repository", "c/d", {"push"}),
                                  scope_of("registry", "catalog", {"*"})));
}

TEST(ScopeParseMany, SpaceSeparatedInOneValue) {
  auto scopes = parse_scopes({"repository:a/b:pull repository:c/d:pull,push"});

  EXPECT_THAT(scopes,
              ElementsAre(scope_of("repository", "a/b", {"pull"}), scope_of("repository", "c/d", {"pull", "push"})));
}

TEST(ScopeParseMany, MixedValues) {
  auto scopes = parse_scopes({"repository:a/b:pull registry:catalog:*", "repository:e/f:delete"});

  EXPECT_THAT(scopes, ElementsAre(scope_of("repository", "a/b", {"pull"}), scope_of("registry", "catalog", {"*"}),
                                  scope_of("repository", "e/f", {"delete"})));
}

TEST(ScopeParseMany, MalformedSkipped) {
  auto scopes = parse_scopes({"repository:a/b:PULL repository:c/d:pull", "nonsense", "repository:e/f:pull,",
                              "repository:g/h:push"});

  EXPECT_THAT(scopes, ElementsAre(scope_of("repository", "c/d", {"pull"}), scope_of("repository", "g/h", {"push"})));
}

TEST(ScopeParseMany, ExtraSpacesSkipped) {
  auto scopes = parse_scopes({" repository:a/b:pull  repository:c/d:push "});

  EXPECT_THAT(scopes, ElementsAre(scope_of("repository", "a/b", {"pull"}), scope_of("repository", "c/d", {"push"})));
}

TEST(ScopeParseMany, EmptyInput) {
  EXPECT_THAT(parse_scopes({}), IsEmpty());
  EXPECT_THAT(parse_scopes({""}), IsEmpty());
  EXPECT_THAT(parse_scopes({" ", ""}), IsEmpty());
}

TEST(ScopeFormat, Forms) {
  EXPECT_EQ(format_scope(scope_of("repository", "a/b", {"pull"})), "repository:a/b:pull");
  EXPECT_EQ(format_scope(scope_of("repository", "a/b", {"pull", "push"})), "repository:a/b:pull,push");
  EXPECT_EQ(format_scope(scope_of("registry", "catalog", {"*"})), "registry:catalog:*");
}

TEST(ScopeFormat, RoundTrip) {
  for (std::string_view text :
       {"repository:a/b:pull", "repository:a/b:pull,push", "repository:a/b:*", "repository:localhost:5000/a/b:pull",
        "registry:catalog:*", "repository(plugin):a/b:pull,push,delete"}) {
    auto scope = parse_scope(text);
    ASSERT_TRUE(scope.has_value()) << text;
    EXPECT_EQ(format_scope(*scope), text);
    EXPECT_EQ(parse_scope(format_scope(*scope)), scope) << text;
  }
}

}  // namespace
}  // namespace berth::auth
