// Compares Berth's template engine with Go's text/template on every case of
// cases.json. Go's results come from reference.go (one JSON object per
// line); run-differential produces them and then runs this program.
//
// A case passes when both engines print the same output, or both fail with
// the same error message. The expectations written in cases.json are
// checked against Go as well, so the table cannot drift from Go.
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "gotemplate/typed_json.h"

namespace {

using berth::gotemplate::testing::load_data_sets;
using berth::gotemplate::testing::load_json;
using berth::gotemplate::testing::run_template;

struct GoResult {
  bool failed = false;
  std::string text;  // the output, or the error message
};

std::map<std::string, GoResult> load_go_results(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::map<std::string, GoResult> results;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto record = nlohmann::json::parse(line);
    GoResult result;
    result.failed = record.contains("error");
    result.text = record.at(result.failed ? "error" : "output").get<std::string>();
    results[record.at("name").get<std::string>()] = result;
  }
  return results;
}

std::string describe(bool failed, const std::string& text) {
  return (failed ? "error " : "output ") + nlohmann::json(text).dump();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: gotemplate_differential CASES.json GO_RESULTS.jsonl\n";
    return 2;
  }
  try {
    const auto cases = load_json(argv[1]);
    const auto data = load_data_sets(cases);
    const auto go_results = load_go_results(argv[2]);

    int failures = 0;
    int count = 0;
    for (const auto& test : cases.at("cases")) {
      ++count;
      const std::string name = test.at("name").get<std::string>();
      auto go = go_results.find(name);
      if (go == go_results.end()) {
        std::cout << "FAIL " << name << ": Go gave no result\n";
        ++failures;
        continue;
      }

      std::string error;
      std::string output = run_template(test.at("template").get<std::string>(), data.at(test.at("data")), error);
      bool berth_failed = !error.empty();
      const std::string& berth_text = berth_failed ? error : output;
      if (berth_failed != go->second.failed || berth_text != go->second.text) {
        std::cout << "FAIL " << name << ":\n  Go:    " << describe(go->second.failed, go->second.text)
                  << "\n  Berth: " << describe(berth_failed, berth_text) << "\n";
        ++failures;
      }

      // The table's own expectation must hold for Go too.
      if (test.contains("output")) {
        if (go->second.failed || go->second.text != test.at("output").get<std::string>()) {
          std::cout << "FAIL " << name << ": cases.json expects output " << test.at("output").dump() << " but Go gave "
                    << describe(go->second.failed, go->second.text) << "\n";
          ++failures;
        }
      } else if (!go->second.failed || go->second.text.find(test.at("error").get<std::string>()) == std::string::npos) {
        std::cout << "FAIL " << name << ": cases.json expects an error containing " << test.at("error").dump()
                  << " but Go gave " << describe(go->second.failed, go->second.text) << "\n";
        ++failures;
      }
    }
    std::cout << count << " cases, " << failures << " failures\n";
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "gotemplate_differential: " << e.what() << "\n";
    return 1;
  }
}
