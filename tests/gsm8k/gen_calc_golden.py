#!/usr/bin/python3
"""Writes calc_golden.jsonl: random annotation left-hand sides with what
Python 3.11's eval() makes of them, the reference for sieve's evaluator.

Each line: {"expr": text, "ok": bool, "value": repr(float(eval(expr)))}.
ok is false where eval raises or gives something that is not an int or
float (tuples, complex). Names never resolve (no builtins): sieve judges
every name invalid by design. Expressions whose integers leave 127 bits at any
step are not written (sieve judges those invalid on purpose).

Usage: gen_calc_golden.py [N] [SEED] > calc_golden.jsonl"""
import ast
import json
import operator
import random
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 7)

def number():
    r = rng.random()
    if r < 0.35:
        return str(rng.randint(0, 200))
    if r < 0.5:
        return f"{rng.randint(0, 99999)}"
    if r < 0.65:
        return rng.choice(["0.5", "2.25", ".5", "3.", "0.001", "1e3", "2.5e-2", "1E2",
                           "12.75", "100.0", "0.1", "7.0", "1.e1", "9.99"])
    if r < 0.75:
        return rng.choice(["1_000", "00", "0", "010", "0_0", "1__0", "1_", "0x1f", "0o17",
                           "0b101", "0x_ff", "09.5", "1e", "1_0.5", "3j", "1e400", "0e0",
                           "10_000.000_1", "0b2", "1.5.0", "007", "1e1_0"])
    return str(rng.randint(0, 10 ** rng.randint(1, 15)))

OPS = ["+", "-", "*", "/", "//", "%", "**", "^", "&", "|", "<<", ">>", "<", "<=", "!="]
OPW = [10, 10, 10, 8, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1]

def expr(depth):
    r = rng.random()
    if depth <= 0 or r < 0.3:
        return number()
    if r < 0.45:
        return rng.choice(["-", "+", "~", "--", "- "]) + expr(depth - 1)
    if r < 0.6:
        return "(" + expr(depth - 1) + ")"
    op = rng.choices(OPS, OPW)[0]
    if op == "**":
        exp = rng.choice(["2", "3", "0", "-1", "0.5", "-2", "(1/3)", "10", "2.0", "-0.5"])
        return expr(depth - 1) + sp() + "**" + sp() + exp
    if op in ("<<", ">>"):
        return expr(depth - 1) + sp() + op + sp() + str(rng.randint(0, 70))
    return expr(depth - 1) + sp() + op + sp() + expr(depth - 1)

def sp():
    return rng.choices(["", " ", "  ", "\t"], [6, 3, 1, 1])[0]

JUNK = ["x", "$", "=", ",", "[", "]", "'", "%", "(", ")", "\n", "\\\n", " #c", "\f",
        "\r\n", "  ", "\n ", "pi", "abs(", "٣", "¾", "\x0b", ".", "e", "_", ";", "<", "@"]

def mutate(s):
    for _ in range(rng.randint(1, 2)):
        i = rng.randint(0, len(s))
        s = s[:i] + rng.choice(JUNK) + s[i:]
    return s

def leading_trailing(s):
    return rng.choice(["", " ", "\t", "\n", "\f", "  "]) + s + rng.choice(["", " ", "\n", " # note", "\n\n", "\n  "])

LIMIT = 1 << 127

class TooBig(Exception):
    pass

BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
       ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
       ast.Pow: operator.pow, ast.BitXor: operator.xor, ast.BitAnd: operator.and_,
       ast.BitOr: operator.or_, ast.LShift: operator.lshift, ast.RShift: operator.rshift}
UN = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}

def walk(node):
    """Python's own operators, with a watch on integer size (and exponents,
    so that nothing here can hang)."""
    if isinstance(node, ast.Expression):
        return walk(node.body)
    if isinstance(node, ast.Constant):
        v = node.value
    elif isinstance(node, ast.UnaryOp):
        v = UN[type(node.op)](walk(node.operand))
    elif isinstance(node, ast.BinOp):
        a, b = walk(node.left), walk(node.right)
        if isinstance(node.op, ast.Pow) and isinstance(b, int) and abs(b) > 200:
            raise TooBig
        if isinstance(node.op, ast.LShift) and isinstance(b, int) and b > 200:
            raise TooBig
        v = BIN[type(node.op)](a, b)
    elif isinstance(node, ast.Compare):
        vals = [walk(node.left)] + [walk(c) for c in node.comparators]
        v = eval(compile(ast.Expression(node), "<c>", "eval"))
    else:
        raise TypeError("unsupported")
    if isinstance(v, int) and abs(v) >= LIMIT:
        raise TooBig
    return v

def verdict(s):
    try:
        # eval() strips leading spaces and tabs of a string; ast.parse does not.
        tree = ast.parse(s.lstrip(" \t"), mode="eval")
    except (SyntaxError, ValueError):
        return False, None
    try:
        walk(tree)
    except TooBig:
        return None, None
    except Exception:
        pass                    # the real eval below decides
    try:
        # No builtins: sieve judges every name invalid by design.
        v = eval(s, {"__builtins__": {}}, {})
    except Exception:
        return False, None
    if not isinstance(v, (int, float)):     # bool is an int: True - 1.0 works
        return False, None
    try:
        return True, repr(float(v))
    except OverflowError:
        return False, None

seen = set()
out = 0
fixed = ["2^3", "2**10", "7//2", "17%5", "-(2-5)*2", "1_000*2", "010+1", "3(4)", "50%*10",
         "5/0", "1,000+1", "1e3+1", " 3 + 4 ", "1/3", "-7//2", "-7%3", "7%-3", "-7.5//2",
         "7.5%-2", "2**-1", "-2**2", "2**3**2", "0**0", "0.0**-1", "(-8)**(1/3)", "(-8)**2.0",
         "10**38", "10**39", "2**126", "-2**127", "(2**127-1)/3", "(2**100+1)/(2**60+7)",
         "123456789*987654321", "~5", "1<<3", "-9>>1", "3\n", "\n3", "\n 3", "(3+\n4)",
         "3+\\\n4", "3 # c", "3\n  ", "3\n  #c", "1e400-1e400", "1e308*10", "0x1F+0b11",
         "2.0^1", "5&3", "5|3", "1.5e-3", "9007199254740993/1", "9007199254740993*1.0",
         "1<0<1/0", "2<3<4", "1<2.5", "3>=3.0", "(1<2)+1", "2<3>1", "1==1.0", "1!=1",
         "9007199254740993<9007199254740992.0", "-(19<0*1E2)", "1e400>10**38", "1<>2",
         "0<1<10**50", "\\\n  18", "\\\n18", "\\\n \\\n18", "\\\n\f18", "1+\\\n  2",
         "#c\n\\\n 1", "3\n  #c", "3\n#c\n  "]
for s in fixed:
    ok, val = verdict(s)
    if ok is not None:
        print(json.dumps({"expr": s, "ok": ok, "value": val}))
        seen.add(s)
        out += 1
while out < N:
    s = expr(rng.randint(1, 5))
    r = rng.random()
    if r < 0.25:
        s = mutate(s)
    elif r < 0.4:
        s = leading_trailing(s)
    if s in seen:
        continue
    ok, val = verdict(s)
    if ok is None:
        continue
    seen.add(s)
    print(json.dumps({"expr": s, "ok": ok, "value": val}))
    out += 1
