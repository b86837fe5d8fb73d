#include "oci/name.h"

#include <gmock/gmock.h>

#include <string>

namespace berth::oci {
namespace {

using ::testing::HasSubstr;

struct NameCase {
  std::string name;
  bool valid;
};

// A name of `length` characters made of components "abcdefg" joined by '/'.
std::string name_of_length(std::size_t length) {
  std::string out;
  while (out.size() < length) out += out.size() % 8 == 7 ? '/' : 'a';
  if (out.back() == '/') out.back() = 'b';
  return out;
}

TEST(RepositoryName, Table) {
  const NameCase cases[] = {
      {"a", true},
      {"0", true},
      {"library/ubuntu", true},
      {"a/b/c/d", true},
      {"my.registry/app", true},
      {"a_b", true},
      {"a__b", true},
      {"a-b", true},
      {"a--b", true},
      {"a---------b", true},
      {"a.b-c_d__e", true},
      {"team-1/app_2/v3.0", true},
      {"", false},
      {"A", false},
      {"library/Ubuntu", false},
      {"a..b", false},
      {"a._b", false},
      {"a-.b", false},
      {"a___b", false},
      {"a//b", false},
      {"/a", false},
      {"a/", false},
      {"/", false},
      {".a", false},
      {"a.", false},
      {"-a", false},
      {"a-", false},
      {"_a", false},
      {"a_", false},
      {"__a", false},
      {"a/.b", false},
      {"a/b-", false},
      {"a b", false},
      {"a:b", false},
      {"a@b", false},
      {"a+b", false},
      {"caf\xc3\xa9", false},
  };
  for (const auto& test : cases) {
    EXPECT_EQ(is_valid_repository_name(test.name), test.valid) << '"' << test.name << '"';
  }
}

TEST(RepositoryName, MaximumLength) {
  std::string longest = name_of_length(kMaxRepositoryNameLength);
  std::string too_long = name_of_length(kMaxRepositoryNameLength + 1);
  ASSERT_EQ(longest.size(), 255u);
  ASSERT_EQ(too_long.size(), 256u);

  EXPECT_EQ(repository_name_problem(longest), std::nullopt);
  EXPECT_TRUE(repository_name_problem(too_long).has_value());
}

TEST(RepositoryName, MaximumLengthSingleComponent) {
  EXPECT_EQ(repository_name_problem(std::string(255, 'a')), std::nullopt);
  EXPECT_TRUE(repository_name_problem(std::string(256, 'a')).has_value());
}

TEST(RepositoryName, LengthProblemNamesLimit) {
  auto problem = repository_name_problem(std::string(256, 'a'));

  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("256"));
  EXPECT_THAT(*problem, HasSubstr("255"));
}

TEST(RepositoryName, UpperCaseProblem) {
  auto problem = repository_name_problem("library/Ubuntu");

  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("'U'"));
  EXPECT_THAT(*problem, HasSubstr("lower case"));
}

TEST(RepositoryName, SeparatorProblemNamesComponent) {
  auto problem = repository_name_problem("library/a___b");

  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("\"a___b\""));
  EXPECT_THAT(*problem, HasSubstr("\"___\""));
}

TEST(RepositoryName, EmptyComponentProblem) {
  auto problem = repository_name_problem("a//b");

  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("empty path component"));
}

TEST(RepositoryName, EmptyNameProblem) {
  auto problem = repository_name_problem("");

  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("empty"));
}

TEST(Tag, Table) {
  const NameCase cases[] = {
      {"latest", true},
      {"v1.0.0", true},
      {"V1", true},
      {"_build", true},
      {"1", true},
      {"a-b_c.d", true},
      {"a..b", true},
      {"a--", true},
      {"sha256-abc.sig", true},
      {"", false},
      {".hidden", false},
      {"-rc1", false},
      {"a/b", false},
      {"a:b", false},
      {"a+b", false},
      {"a b", false},
      {"a@b", false},
      {"tag\n", false},
      {"caf\xc3\xa9", false},
  };
  for (const auto& test : cases) {
    EXPECT_EQ(is_valid_tag(test.name), test.valid) << '"' << test.name << '"';
  }
}

TEST(Tag, MaximumLength) {
  EXPECT_EQ(tag_problem(std::string(128, 'a')), std::nullopt);
  EXPECT_TRUE(tag_problem(std::string(129, 'a')).has_value());
}

TEST(Tag, LengthProblemNamesLimit) {
  auto problem = tag_problem(std::string(129, 'a'));

  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("129"));
  EXPECT_THAT(*problem, HasSubstr("128"));
}

TEST(Tag, LeadingCharacterProblem) {
  auto problem = tag_problem(".hidden");

  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("'.'"));
}

TEST(Tag, CharacterProblemNamesCharacter) {
  auto problem = tag_problem("v1+build");

  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("'+'"));
}

}  // namespace
}  // namespace berth::oci
