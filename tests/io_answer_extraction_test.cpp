// The grader on the tricky texts a student or a teacher writes.
#include "io/data/answer_extraction.hpp"

#include <catch2/catch.hpp>

using namespace tailor;

TEST_CASE("numbers: the first number after \"\\nAnswer\", commas removed, trailing period stripped") {
  CHECK(extract_answer("He has 3 + 4 = 7 apples.\nAnswer: 1,250.", task_kind::gsm8k) == "1250");
  CHECK(extract_answer("So it costs $12.\nAnswer: $12 or 13", task_kind::gsm8k) == "12");
}

TEST_CASE("numbers: \"Therefore, the answer is\" marks the answer when there is no answer line") {
  CHECK(extract_answer("5 * 3 = 15. Therefore, the answer is 15. Check: 15 - 3 = 12.", task_kind::svamp) ==
        "15");
}

TEST_CASE("numbers: \"\\nAnswer\" is looked for before \"Therefore, the answer is\"") {
  CHECK(extract_answer("Therefore, the answer is 10.\nAnswer: 12", task_kind::gsm8k) == "12");
}

TEST_CASE("numbers: without a marker the last number counts") {
  CHECK(extract_answer("First 2 + 2 = 4, then 4 * 3 = 12.", task_kind::multiarith) == "12");
  CHECK(extract_answer("= 42.", task_kind::arith) == "42"); // a tail of no words at all
}

TEST_CASE("numbers: \"Answer\" without a newline before it is no marker") {
  CHECK(extract_answer("Answer: 3 apples and 5 pears, 8 in all", task_kind::gsm8k) == "8");
  CHECK(extract_answer("The Answer is 3 + 5 = 8", task_kind::gsm8k) == "8");
}

TEST_CASE("numbers: text after the first blank line is ignored") {
  CHECK(extract_answer("So 6 * 7 = 42.\nAnswer: 42\n\nQuestion: What is 1 + 1?\nAnswer: 2",
                       task_kind::gsm8k) == "42");
  CHECK(extract_answer("It is 5.\n  \nAnswer: 9", task_kind::gsm8k) == "5"); // a line of spaces is blank too
}

TEST_CASE("numbers: decimals and negatives are kept; a zero fraction is dropped") {
  CHECK(extract_answer("\nAnswer: 2.5", task_kind::gsm8k) == "2.5");
  CHECK(extract_answer("\nAnswer: -3", task_kind::gsm8k) == "-3");
  CHECK(extract_answer("\nAnswer: 18.00", task_kind::gsm8k) == "18");
  CHECK(extract_answer("\nAnswer: 0.50 dollars", task_kind::gsm8k) == "0.5");
  CHECK(extract_answer("The change is 7 - 10 = -3", task_kind::gsm8k) == "-3");
  CHECK(extract_answer("12-5=7", task_kind::gsm8k) == "7"); // a minus between numbers is no sign
  CHECK(extract_answer("It is .5", task_kind::gsm8k) == "0.5");
}

TEST_CASE("numbers: a comma joins digit groups only before exactly three digits") {
  CHECK(extract_answer("\nAnswer: 1,000,000", task_kind::gsm8k) == "1000000");
  CHECK(extract_answer("The numbers are 3,4", task_kind::gsm8k) == "4");
}

TEST_CASE("numbers: no number at all gives an empty answer") {
  CHECK(extract_answer("I do not know.", task_kind::gsm8k).empty());
  CHECK(extract_answer("There are 5 cats.\nAnswer: many", task_kind::gsm8k).empty());
  CHECK(extract_answer("", task_kind::gsm8k).empty());
}

TEST_CASE("strategyqa: yes/no after the answer line, else the last whole word yes/no") {
  CHECK(extract_answer("No bird can. Yes, really.\nAnswer: No", task_kind::strategyqa) == "no");
  CHECK(extract_answer("Yes, it can. Therefore, the answer is no.", task_kind::strategyqa) == "no");
  CHECK(extract_answer("Nobody knows; yesterday is gone. YES", task_kind::strategyqa) == "yes");
  CHECK(extract_answer("Nobody knows, not even yesterday's news.", task_kind::strategyqa).empty());
  CHECK(extract_answer("So yes.\n\nAnswer: No", task_kind::strategyqa) == "yes");
}

TEST_CASE("csqa: the letter in parentheses after a marker, else the last one") {
  CHECK(extract_answer("Fish swim. Therefore, the answer is water (b).", task_kind::csqa) == "b");
  CHECK(extract_answer("Not (a) tree, so (C) sky.", task_kind::csqa) == "c");
  CHECK(extract_answer("Either (a) or (d).\nAnswer: (e)", task_kind::csqa) == "e");
  CHECK(extract_answer("Choice (f) is out of range.", task_kind::csqa).empty());
}

TEST_CASE("normalize_number writes equal numbers alike and leaves other text alone") {
  CHECK(normalize_number("1,000") == "1000");
  CHECK(normalize_number(" 18.00 ") == "18");
  CHECK(normalize_number("2.50") == "2.5");
  CHECK(normalize_number("-0.0") == "0");
  CHECK(normalize_number("-7") == "-7");
  CHECK(normalize_number("Yes") == "Yes");
  CHECK(normalize_number("1.2.3") == "1.2.3");
}

TEST_CASE("answer_matches compares lowercase strings with numbers normalized") {
  CHECK(answer_matches("yes", "Yes"));
  CHECK(answer_matches("b", "b"));
  CHECK(answer_matches("1000", "1,000"));
  CHECK(answer_matches("18", "18.0"));
  CHECK_FALSE(answer_matches("17", "18"));
  CHECK_FALSE(answer_matches("", ""));
  CHECK_FALSE(answer_matches("no", "Yes"));
}
