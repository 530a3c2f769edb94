#!/usr/bin/python3
"""Independent checker for synth-math output (JSONL from `sieve stage
synth-math` or tests/synth-math/synth_dump).

It shares no code with the generator: it solves every question by reading
its sentences (the templates' small, regular English) and checks each answer
by the GSM8K paper's rules:
  * every <<lhs=rhs>>: lhs evaluated as a Python expression equals rhs
    (|diff| < 1e-3), and the line reads "lhs = <<lhs=rhs>>rhs";
  * the last line is "#### N" with N == the last result == gold_answer ==
    the solver's answer;
  * every operand is a number of the question (twice/half = 2) or an
    earlier result, so a path is a real solution, not just true arithmetic;
  * the answers of one question (records sharing a qid, or an "answers"
    list) have pairwise distinct equation lists.
With --disjoint A B it checks that two files share no question.
Prints failures, then one line of JSON with the counts; exits 1 on failure.
"""
import json
import re
import sys
from collections import defaultdict

ANN = re.compile(r"<<([^>]*)>>")
FINAL = re.compile(r"#### (\-?[0-9\.\,]+)")


def solve(question):
    """The answer a reader gets from the question's sentences."""
    sents = re.findall(r"[^.?]+[.?]", question)
    money_in = 0          # savings: money earned
    spend = 0             # shop/savings: money spent
    bill = None
    have = {}             # (person, item) -> count, for relations
    pile = 0              # share: things a person has
    divisor = None
    chain = None          # groups: running count
    m = None
    for s in (x.strip() for x in sents):
        if s.endswith("?"):
            return answer_question(s, locals())
        if re.fullmatch(r"\w+ is \d+ years old\.", s) or re.fullmatch(r"\w+ also has \d+ \w+\.", s):
            continue
        if m := re.fullmatch(r"\w+ buys (\d+) [\w ]+ for \$(\d+) each\.", s):
            spend += int(m[1]) * int(m[2])
        elif m := re.fullmatch(r"\w+ buys an? [\w ]+ for \$(\d+)\.", s):
            spend += int(m[1])
        elif m := re.fullmatch(r"\w+ pays with a \$(\d+) bill\.", s):
            bill = int(m[1])
        elif m := re.fullmatch(r"\w+ (?:saves|earns) \$(\d+) each (?:week|day) for (\d+) (?:weeks|days)\.", s):
            money_in += int(m[1]) * int(m[2])
        elif m := re.fullmatch(r"\w+ also gets \$(\d+) as a gift\.", s):
            money_in += int(m[1])
        elif m := re.fullmatch(r"(\w+) has (\d+) (more|fewer) (\w+) than (\w+)\.", s):
            base = have[(m[5], m[4])]
            have[(m[1], m[4])] = base + int(m[2]) if m[3] == "more" else base - int(m[2])
        elif m := re.fullmatch(r"(\w+) has twice as many (\w+) as (\w+)\.", s):
            have[(m[1], m[2])] = 2 * have[(m[3], m[2])]
        elif m := re.fullmatch(r"(\w+) has (\d+) times as many (\w+) as (\w+)\.", s):
            have[(m[1], m[3])] = int(m[2]) * have[(m[4], m[3])]
        elif m := re.fullmatch(r"(\w+) has half as many (\w+) as (\w+)\.", s):
            assert have[(m[3], m[2])] % 2 == 0, s
            have[(m[1], m[2])] = have[(m[3], m[2])] // 2
        elif m := re.fullmatch(r"A \w+ has (\d+) \w+\.", s):
            chain = int(m[1])
        elif m := re.fullmatch(r"Each \w+ has (\d+) \w+\.", s):
            chain *= int(m[1])
        elif m := re.fullmatch(r"Then (\d+) more \w+ are added\.", s):
            chain += int(m[1])
        elif m := re.fullmatch(r"Then (\d+) \w+ are taken away\.", s):
            chain -= int(m[1])
        elif m := re.fullmatch(r"(\w+) has (\d+) (\w+)\.", s):
            have[(m[1], m[3])] = int(m[2])
        elif m := re.fullmatch(r"\w+ (?:bakes|picks|buys) (\d+) \w+ of (\d+) \w+\.", s):
            pile += int(m[1]) * int(m[2])
        elif m := re.fullmatch(r"\w+ (?:bakes|picks|buys) (\d+) \w+\.", s):
            pile += int(m[1])
        elif m := re.fullmatch(r"\w+ gets (\d+) more \w+ from \w+\.", s):
            pile += int(m[1])
        elif m := re.fullmatch(r"\w+ (?:eats|loses|drops) (\d+) \w+\.", s):
            pile -= int(m[1])
        elif m := re.fullmatch(r"\w+ gives (\d+) \w+ to \w+\.", s):
            pile -= int(m[1])
        elif m := re.fullmatch(r"\w+ puts the rest into bags of (\d+)\.", s):
            divisor = int(m[1])
        elif m := re.fullmatch(r"\w+ shares the rest equally among (\d+) friends\.", s):
            divisor = int(m[1])
        else:
            raise ValueError(f"unknown sentence: {s!r}")
    raise ValueError("no question sentence")


def answer_question(q, st):
    have = st["have"]
    if re.fullmatch(r"How many dollars does \w+ spend\?", q):
        return st["spend"]
    if re.fullmatch(r"How many dollars of change does \w+ get\?", q):
        return st["bill"] - st["spend"]
    if re.fullmatch(r"How many dollars does \w+ have left\?", q):
        return st["money_in"] - st["spend"]
    if m := re.fullmatch(r"How many (\w+) do they have in total\?", q):
        return sum(v for (who, item), v in have.items() if item == m[1])
    if m := re.fullmatch(r"How many (\w+) do (\w+), (\w+) and (\w+) have together\?", q):
        return sum(have[(who, m[1])] for who in (m[2], m[3], m[4]))
    if m := re.fullmatch(r"How many (\w+) do (\w+) and (\w+) have together\?", q):
        return have[(m[2], m[1])] + have[(m[3], m[1])]
    if m := re.fullmatch(r"How many more (\w+) does (\w+) have than (\w+)\?", q):
        return have[(m[2], m[1])] - have[(m[3], m[1])]
    if m := re.fullmatch(r"How many (\w+) does (\w+) have\?", q):
        return have[(m[2], m[1])]
    if re.fullmatch(r"How many \w+ are in the \w+(?: now)?\?", q):
        return st["chain"]
    if re.fullmatch(r"How many bags does \w+ fill\?", q) or \
            re.fullmatch(r"How many \w+ does each friend get\?", q):
        assert st["pile"] % st["divisor"] == 0, q
        return st["pile"] // st["divisor"]
    raise ValueError(f"unknown question: {q!r}")


def question_numbers(q):
    nums = {int(x) for x in re.findall(r"\d+", q)}
    if "twice" in q or "half" in q:
        nums.add(2)
    return nums


def check_answer(answer, question, gold, steps):
    """List of problems with one answer text (empty when fine), and its key."""
    errs = []
    lines = answer.split("\n")
    known = question_numbers(question)
    eqs = []
    last = None
    for line in lines[:-1]:
        anns = ANN.findall(line)
        if len(anns) != 1:
            errs.append(f"line without exactly one annotation: {line!r}")
            continue
        lhs, _, rhs = anns[0].partition("=")
        try:
            ok = abs(eval(lhs, {"__builtins__": {}}) - float(rhs)) < 1e-3
        except Exception as e:  # the paper counts anything raising as invalid
            ok = False
            errs.append(f"annotation raises {e!r}: {anns[0]!r}")
        if not ok:
            errs.append(f"wrong annotation {anns[0]!r}")
        if f"{lhs} = <<{lhs}={rhs}>>{rhs}" not in line:
            errs.append(f"line not in 'e = <<e=r>>r' form: {line!r}")
        for operand in re.findall(r"\d+", lhs):
            if int(operand) not in known:
                errs.append(f"operand {operand} is neither in the question nor an earlier result: {line!r}")
        if re.fullmatch(r"\d+", rhs):
            known.add(int(rhs))
            last = int(rhs)
        eqs.append(anns[0].replace(" ", ""))
    m = FINAL.search(lines[-1])
    if not m or lines[-1] != f"#### {m[1]}":
        errs.append(f"last line is not '#### N': {lines[-1]!r}")
    elif float(m[1].replace(",", "")) != float(gold) or last is None or int(gold) != last:
        errs.append(f"final {m[1]} / last result {last} / gold {gold} disagree")
    if steps is not None and len(eqs) != steps:
        errs.append(f"{len(eqs)} annotations, record says {steps} steps")
    return errs, "|".join(eqs), eqs


def main(argv):
    if len(argv) == 4 and argv[1] == "--disjoint":
        qa = {json.loads(line)["question"] for line in open(argv[2])}
        qb = {json.loads(line)["question"] for line in open(argv[3])}
        shared = qa & qb
        for q in list(shared)[:5]:
            print("shared question:", q)
        print(json.dumps({"a": len(qa), "b": len(qb), "shared": len(shared)}))
        return 1 if shared else 0
    if len(argv) != 2:
        print(__doc__)
        return 2
    failures = []
    keys = defaultdict(list)  # qid -> equation-list keys
    n_rec = n_ans = 0
    operands = small = 0
    max_result = 0
    for lineno, line in enumerate(open(argv[1]), 1):
        rec = json.loads(line)
        n_rec += 1
        q, gold = rec["question"], rec["gold_answer"]
        try:
            expect = solve(q)
        except Exception as e:
            failures.append(f"{argv[1]}:{lineno}: cannot solve: {e}")
            expect = None
        if expect is not None and str(expect) != gold:
            failures.append(f"{argv[1]}:{lineno}: gold {gold}, the question says {expect}: {q}")
        answers = [rec["answer"]] + [a for a in rec.get("answers", []) if a != rec["answer"]]
        group = []
        for a in answers:
            n_ans += 1
            errs, key, eqs = check_answer(a, q, gold, rec.get("steps"))
            failures += [f"{argv[1]}:{lineno}: {e}" for e in errs]
            group.append(key)
            for e in eqs:
                lhs, _, rhs = e.partition("=")
                max_result = max(max_result, int(rhs))
                for x in re.findall(r"\d+", lhs):
                    operands += 1
                    small += int(x) < 100
        if "answers" in rec:
            drawn = rec["answers"]
            dk = [check_answer(a, q, gold, None)[1] for a in drawn]
            if len(set(dk)) != len(dk):
                failures.append(f"{argv[1]}:{lineno}: repeated equation list among answers")
        else:
            keys[rec["qid"]] += group
    for qid, ks in keys.items():
        if len(set(ks)) != len(ks):
            failures.append(f"{qid}: two records share an equation list")
    for f in failures[:20]:
        print(f)
    print(json.dumps({"records": n_rec, "answers_checked": n_ans, "failures": len(failures),
                      "operands_below_100": round(small / max(operands, 1), 4),
                      "max_result": max_result}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
