// The tokens of a template, split as Go 1.19's text/template/parse splits
// them, so that positions, line numbers and error texts match Go's.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace berth::gotemplate {

enum class ItemType {
  kError,  // the text is the error message; lexing stops after it
  kBool,
  kChar,  // a printable ASCII character that has no other meaning, such as ','
  kCharConstant,
  kComplex,
  kAssign,   // =
  kDeclare,  // :=
  kEof,
  kField,       // .Name
  kIdentifier,  // a function name
  kLeftDelim,
  kLeftParen,
  kNumber,
  kPipe,
  kRawString,  // `text`, quotes included
  kRightDelim,
  kRightParen,
  kSpace,
  kString,  // "text", quotes included
  kText,
  kVariable,  // $ or $name
  // Keywords; every type after kKeyword is one.
  kKeyword,
  kBlock,
  kBreak,
  kContinue,
  kDot,
  kDefine,
  kElse,
  kEnd,
  kIf,
  kNil,
  kRange,
  kTemplate,
  kWith,
};

struct Item {
  ItemType type = ItemType::kEof;
  std::size_t pos = 0;  // byte offset of the item in the template text
  std::string text;
  int line = 1;  // line of the item's first byte
};

// Splits `input` into items. The last item is kEof or kError.
std::vector<Item> lex(std::string_view input);

// Describes an item the way Go's parse errors do: "EOF", `<if>` for
// keywords, a quoted value cut after 10 characters, or the error text.
std::string describe(const Item& item);

}  // namespace berth::gotemplate
