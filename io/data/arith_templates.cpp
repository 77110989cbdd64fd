// Wording of arith problems: people, objects, containers, and a few sentences per operation.
#include "io/data/arith_templates.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace tailor::arith_detail {
namespace {

struct noun {
  std::string_view one;
  std::string_view many;
  friend bool operator==(const noun&, const noun&) = default;
};

struct person {
  std::string_view name;
  bool she;
};

constexpr std::array<person, 16> people = {{{"Ann", true},
                                            {"Ben", false},
                                            {"Cara", true},
                                            {"Dan", false},
                                            {"Eva", true},
                                            {"Finn", false},
                                            {"Gia", true},
                                            {"Hugo", false},
                                            {"Ivy", true},
                                            {"Jack", false},
                                            {"Lily", true},
                                            {"Max", false},
                                            {"Mia", true},
                                            {"Noah", false},
                                            {"Rosa", true},
                                            {"Sam", false}}};

constexpr std::array<noun, 12> objects = {{{"pencil", "pencils"},
                                           {"apple", "apples"},
                                           {"sticker", "stickers"},
                                           {"marble", "marbles"},
                                           {"cookie", "cookies"},
                                           {"shell", "shells"},
                                           {"stamp", "stamps"},
                                           {"card", "cards"},
                                           {"coin", "coins"},
                                           {"bead", "beads"},
                                           {"book", "books"},
                                           {"egg", "eggs"}}};

constexpr std::array<noun, 6> containers = {{{"box", "boxes"},
                                             {"bag", "bags"},
                                             {"jar", "jars"},
                                             {"basket", "baskets"},
                                             {"pack", "packs"},
                                             {"crate", "crates"}}};

constexpr std::array<noun, 6> groups = {{{"friend", "friends"},
                                         {"cousin", "cousins"},
                                         {"classmate", "classmates"},
                                         {"kid", "kids"},
                                         {"teammate", "teammates"},
                                         {"neighbor", "neighbors"}}};

std::string str(std::string_view text) {
  return std::string(text);
}

std::string capitalized(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z')
    text[0] = static_cast<char>(text[0] - 'a' + 'A');
  return text;
}

std::string count_of(std::int64_t n, const noun& what) {
  return std::to_string(n) + " " + str(n == 1 ? what.one : what.many);
}

std::string expression(const arith_step& step) {
  return std::to_string(step.lhs) + " " + step.op + " " + std::to_string(step.rhs) + " = " +
         std::to_string(step.value);
}

// Tells the story one step at a time, keeping track of who it is about and what is being counted, so that
// each sentence can refer back with a pronoun and the question asks about the right thing.
class story_writer {
public:
  explicit story_writer(random_source& random) : random_(random) {}

  void write(arith_problem& problem) {
    unit_ = random_.pick(objects);
    become(new_person());
    auto step = problem.steps.begin();
    if (step->op == '*' && random_.coin()) {
      // "Ann has 3 boxes of 4 pencils." states the first multiplication itself.
      opening_box_ = random_.pick(containers);
      say(str(name_) + " has " + count_of(step->lhs, opening_box_) + " of " + count_of(step->rhs, unit_) +
          ".");
      step->text = capitalized(pronoun_) + " has " + expression(*step) + ".";
      ++step;
    } else {
      open(problem.steps.front().lhs);
    }
    for (; step != problem.steps.end(); ++step) {
      shared_last_ = false;
      switch (step->op) {
      case '+':
        step->text = add(*step);
        break;
      case '-':
        step->text = take_away(*step);
        break;
      case '*':
        step->text = multiply(*step);
        break;
      default:
        step->text = divide(*step);
        break;
      }
    }
    ask();
    problem.question = std::move(question_);
  }

private:
  void say(const std::string& sentence) {
    if (!question_.empty())
      question_ += ' ';
    question_ += sentence;
  }

  std::string subject() const { return capitalized(pronoun_); }

  // The current unit's name after a number, "1 egg" but "2 eggs".
  std::string counted(std::int64_t n) const { return str(n == 1 ? unit_.one : unit_.many); }

  std::string has(const arith_step& step) const { return subject() + " has " + expression(step) + "."; }

  person new_person() {
    for (;;) {
      const person& candidate = random_.pick(people);
      if (std::find(cast_.begin(), cast_.end(), candidate.name) == cast_.end())
        return candidate;
    }
  }

  void become(const person& who) {
    cast_.push_back(who.name);
    name_ = str(who.name);
    pronoun_ = who.she ? "she" : "he";
    object_ = who.she ? "her" : "him";
  }

  template <std::size_t n>
  noun other_than(const std::array<noun, n>& choices, const noun& current) {
    for (;;) {
      const noun& candidate = random_.pick(choices);
      if (!(candidate == current))
        return candidate;
    }
  }

  void open(std::int64_t start) {
    switch (random_.between(0, 2)) {
    case 0:
      say(name_ + " has " + count_of(start, unit_) + ".");
      break;
    case 1:
      say(name_ + " starts with " + count_of(start, unit_) + ".");
      break;
    default:
      opening_box_ = random_.pick(containers);
      say(name_ + "'s " + str(opening_box_.one) + " holds " + count_of(start, unit_) + ".");
    }
  }

  std::string add(const arith_step& step) {
    switch (random_.between(0, 2)) {
    case 0:
      say(subject() + " buys " + std::to_string(step.rhs) + " more.");
      break;
    case 1:
      say(str(new_person().name) + " gives " + object_ + " " + std::to_string(step.rhs) + " more.");
      break;
    default:
      say(subject() + " finds " + std::to_string(step.rhs) + " more " + counted(step.rhs) + ".");
      break;
    }
    return has(step);
  }

  std::string take_away(const arith_step& step) {
    const std::string amount = std::to_string(step.rhs);
    switch (random_.between(0, 3)) {
    case 0:
      say(subject() + " gives away " + amount + ".");
      break;
    case 1:
      say(subject() + " loses " + amount + " of them.");
      break;
    case 2:
      say(subject() + " gives " + amount + " to " + str(new_person().name) + ".");
      break;
    default:
      say(subject() + " sells " + amount + ".");
      break;
    }
    return has(step);
  }

  std::string multiply(const arith_step& step) {
    if (random_.coin()) {
      // The story moves on to someone who has more: "Ben has 3 times as many pencils as Ann."
      const person other = new_person();
      say(str(other.name) + " has " + std::to_string(step.rhs) + " times as many " + str(unit_.many) +
          " as " + name_ + ".");
      become(other);
      return name_ + " has " + expression(step) + ".";
    }
    const noun traded = other_than(objects, unit_);
    say(subject() + " trades each " + str(unit_.one) + " for " + count_of(step.rhs, traded) + ".");
    unit_ = traded;
    return subject() + " gets " + expression(step) + " " + counted(step.value) + ".";
  }

  std::string divide(const arith_step& step) {
    const std::string factor = std::to_string(step.rhs);
    switch (random_.between(0, 2)) {
    case 0: {
      const noun group = random_.pick(groups);
      say(subject() + " shares them equally among " + factor + " " + str(group.many) + ".");
      name_ = pronoun_ = object_ = "each " + str(group.one);
      shared_last_ = true;
      return subject() + " gets " + expression(step) + ".";
    }
    case 1: {
      // Packing boxes into boxes, or pencils from boxes into boxes again, would read as a trick question.
      noun box = other_than(containers, unit_);
      while (box == opening_box_)
        box = other_than(containers, unit_);
      say(subject() + " packs them into " + str(box.many) + " of " + factor + ".");
      unit_ = box;
      return subject() + " fills " + expression(step) + " " + counted(step.value) + ".";
    }
    default: {
      const noun traded = other_than(objects, unit_);
      say(subject() + " trades every " + factor + " " + str(unit_.many) + " for 1 " + str(traded.one) + ".");
      unit_ = traded;
      return subject() + " gets " + expression(step) + " " + counted(step.value) + ".";
    }
    }
  }

  void ask() {
    const std::string what = "How many " + str(unit_.many) + " does " + name_;
    if (shared_last_)
      return say(what + " get?");
    say(what + (random_.coin() ? " have?" : " have now?"));
  }

  random_source& random_;
  std::string question_;
  std::vector<std::string_view> cast_; // everyone named so far, so that a newcomer is someone else
  std::string name_;                   // "Ann", or "each friend" after a share
  std::string pronoun_;                // "she", "he", or "each friend"
  std::string object_;                 // "her", "him", or "each friend"
  noun unit_;                          // what the current quantity counts
  noun opening_box_;                   // the container the story opens with, if any
  bool shared_last_ = false;           // the last sentence shared the quantity out: "does each kid get?"
};

} // namespace

void word_problem(arith_problem& problem, random_source& random) {
  story_writer(random).write(problem);
}

} // namespace tailor::arith_detail
