#include <gmock/gmock.h>

#include <cctype>
#include <string>
#include <vector>

#include "gotemplate/template.h"
#include "gotemplate/typed_json.h"

namespace berth::gotemplate {
namespace {

using ::testing::HasSubstr;
using testing::load_data_sets;
using testing::load_json;
using testing::run_template;

struct TableCase {
  std::string name;
  std::string text;
  std::string data;
  bool fails = false;
  std::string expected;  // the output, or a part of the error message
};

const nlohmann::json& case_file() {
  static const nlohmann::json cases = load_json(BERTH_GOTEMPLATE_CASES);
  return cases;
}

std::vector<TableCase> table_cases() {
  std::vector<TableCase> out;
  for (const auto& test : case_file().at("cases")) {
    TableCase c;
    c.name = test.at("name").get<std::string>();
    c.text = test.at("template").get<std::string>();
    c.data = test.at("data").get<std::string>();
    c.fails = test.contains("error");
    c.expected = test.at(c.fails ? "error" : "output").get<std::string>();
    out.push_back(c);
  }
  return out;
}

// "cli json not builtin" -> "cli_json_not_builtin"
std::string test_name(const ::testing::TestParamInfo<TableCase>& info) {
  std::string name;
  for (char c : info.param.name) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

class GoTemplateTable : public ::testing::TestWithParam<TableCase> {};

TEST_P(GoTemplateTable, MatchesGo) {
  const TableCase& c = GetParam();
  static const auto data = load_data_sets(case_file());
  std::string error;
  std::string output = run_template(c.text, data.at(c.data), error);
  if (c.fails) {
    EXPECT_THAT(error, HasSubstr(c.expected)) << "template: " << c.text << "\noutput: " << output;
  } else {
    EXPECT_EQ(error, "") << "template: " << c.text;
    EXPECT_EQ(output, c.expected) << "template: " << c.text;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, GoTemplateTable, ::testing::ValuesIn(table_cases()), test_name);

TEST(GoTemplateTableFile, HasEnoughCases) {
  std::size_t errors = 0;
  for (const auto& c : table_cases()) errors += c.fails ? 1 : 0;
  EXPECT_GE(table_cases().size(), 80u);
  EXPECT_GE(errors, 20u);
}

TEST(GoTemplateValue, MapSortsKeysAndKeepsLastDuplicate) {
  Value map = Value::map({{"b", Value::integer(2)}, {"a", Value::integer(1)}, {"b", Value::integer(3)}});
  ASSERT_EQ(map.fields().size(), 2u);
  EXPECT_EQ(map.fields()[0].first, "a");
  EXPECT_EQ(map.fields()[1].first, "b");
  ASSERT_NE(map.find("b"), nullptr);
  EXPECT_EQ(map.find("b")->as_int(), 3);
  EXPECT_EQ(map.find("c"), nullptr);
}

TEST(GoTemplateValue, DefaultTypeNames) {
  EXPECT_EQ(Value().type_name(), "interface {}");
  EXPECT_EQ(Value::integer(1).type_name(), "int");
  EXPECT_EQ(Value::integer(1, "int64").type_name(), "int64");
  EXPECT_EQ(Value::floating(1).type_name(), "float64");
  EXPECT_EQ(Value::list({}).type_name(), "[]interface {}");
  EXPECT_EQ(Value::map({}).type_name(), "map[string]interface {}");
  Value anonymous = Value::structure({{"A", Value::string("x")}, {"B", Value::integer(1, "int64")}});
  EXPECT_EQ(anonymous.type_name(), "struct { A string; B int64 }");
}

TEST(GoTemplateValue, StructFieldOrderIsKept) {
  Value image = Value::structure({{"Tag", Value::string("v1")}, {"Repository", Value::string("app")}}, "main.Image");
  EXPECT_EQ(Template::parse("{{.}}").execute(image), "{v1 app}");
  EXPECT_EQ(Template::parse("{{.Repository}}:{{.Tag}}").execute(image), "app:v1");
}

TEST(GoTemplateTemplate, ReusableAcrossData) {
  Template tmpl = Template::parse("{{.Name}}={{len .Tags}}");
  Template copy = tmpl;
  Value a = Value::map({{"Name", Value::string("a")}, {"Tags", Value::list({Value::string("x")})}});
  Value b = Value::map({{"Name", Value::string("b")}, {"Tags", Value::list({})}});
  EXPECT_EQ(tmpl.execute(a), "a=1");
  EXPECT_EQ(copy.execute(b), "b=0");
  EXPECT_EQ(tmpl.execute(a), "a=1");
}

TEST(GoTemplateTemplate, ErrorsUseTheTemplateName) {
  try {
    Template::parse("{{.Foo", "image-list");
    FAIL() << "the template parsed";
  } catch (const TemplateError& e) {
    EXPECT_STREQ(e.what(), "template: image-list:1: unclosed action");
  }
  Template tmpl = Template::parse("{{.Foo}}", "image-list");
  Value image = Value::structure({{"Tag", Value::string("v1")}}, "main.Image");
  try {
    tmpl.execute(image);
    FAIL() << "the template executed";
  } catch (const TemplateError& e) {
    EXPECT_STREQ(e.what(),
                 "template: image-list:1:2: executing \"image-list\" at <.Foo>: can't evaluate field Foo in type "
                 "main.Image");
  }
}

TEST(GoTemplateTemplate, UnparsedTemplateThrows) {
  Template empty;
  EXPECT_THROW(empty.execute(Value()), TemplateError);
}

TEST(GoTemplateTemplate, DeepRecursionFailsCleanly) {
  Template tmpl = Template::parse(R"({{define "loop"}}{{template "loop" .}}{{end}}{{template "loop" .}})");
  try {
    tmpl.execute(Value::integer(1));
    FAIL() << "the recursion did not stop";
  } catch (const TemplateError& e) {
    EXPECT_THAT(e.what(), HasSubstr("exceeded maximum template depth"));
  }
}

}  // namespace
}  // namespace berth::gotemplate
