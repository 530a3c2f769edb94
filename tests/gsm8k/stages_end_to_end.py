#!/usr/bin/python3
"""The gsm8k stages end to end through the sieve CLI:
- gsm8k-check on every record of ../shared/data/checker/{conformance,edge_cases}.jsonl,
  with the expected fields removed from the input: 100% agreement, other fields kept;
- dedup on ../shared/data/dedup/candidates.jsonl (one line per candidate) gives
  expected.jsonl's kept indices in kept order; grouped=false on interleaved
  input gives the same; grouped=true on interleaved input fails loudly;
- aggregate (sieve run, two producers) keeps the same paths, reports the overlap,
  passes SFT lines through and writes the paper's query/response lines;
- evaluate on hand-made samples gives hand-computed metrics.
Exits 77 (skipped) when the CLI is not built."""
import json
import os
import random
import subprocess
import sys
import tempfile

SIEVE = os.environ.get("SIEVE_BIN", "")
DATA = os.environ.get("SIEVE_SHARED_DATA", "")
if not SIEVE or not os.access(SIEVE, os.X_OK):
    print("no sieve CLI at SIEVE_BIN; skipped")
    sys.exit(77)

failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += not cond


def stage(name, lines, *params, expect_ok=True):
    args = [SIEVE, "stage", name, "-q"]
    for p in params:
        args += ["--param", p]
    r = subprocess.run(args, input="".join(json.dumps(x) + "\n" for x in lines),
                       capture_output=True, text=True)
    if expect_ok and r.returncode != 0:
        print(r.stderr[-2000:])
    return r.returncode, [json.loads(l) for l in r.stdout.splitlines() if l.strip()], r.stderr


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


# ---- gsm8k-check against the paper's verdicts
for name in ["conformance.jsonl", "edge_cases.jsonl"]:
    recs = read_jsonl(os.path.join(DATA, "checker", name))
    given = [{k: v for k, v in r.items() if k not in ("extracted", "correct", "equations_valid")}
             for r in recs]
    rc, out, _ = stage("gsm8k-check", given)
    agree = sum(1 for r, o in zip(recs, out)
                if (o.get("extracted"), o.get("correct"), o.get("equations_valid")) ==
                   (r["extracted"], r["correct"], r["equations_valid"]))
    kept_fields = all(o.get("id") == r["id"] and o.get("completion") == r["completion"]
                      for r, o in zip(recs, out))
    check(rc == 0 and len(out) == len(recs) and agree == len(recs),
          f"gsm8k-check agrees with the paper on {agree}/{len(recs)} of {name}")
    check(kept_fields, f"gsm8k-check passes the other fields of {name} through")

# `sieve stage --metrics FILE` keeps the stage's metric line: its counts are the paper's
recs = read_jsonl(os.path.join(DATA, "checker", "conformance.jsonl"))
with tempfile.TemporaryDirectory() as tmp:
    mpath = os.path.join(tmp, "metrics.jsonl")
    given = [{k: v for k, v in r.items() if k not in ("extracted", "correct", "equations_valid")}
             for r in recs]
    r = subprocess.run([SIEVE, "stage", "gsm8k-check", "-q", "--metrics", mpath],
                       input="".join(json.dumps(x) + "\n" for x in given), capture_output=True,
                       text=True)
    lines = read_jsonl(mpath) if os.path.exists(mpath) else []
    want = {"stage": "gsm8k-check", "completions": len(recs),
            "correct": sum(1 for x in recs if x["correct"]),
            "equations_valid": sum(1 for x in recs if x["equations_valid"])}
    check(r.returncode == 0 and len(lines) == 1 and all(lines[0].get(k) == v for k, v in want.items()),
          f"sieve stage --metrics writes the stage's metric line ({want['correct']} correct of {len(recs)})")

# gold from the answer text when there is no gold_answer
rc, out, _ = stage("gsm8k-check", [{"answer": "so <<2+2=4>>4\n#### 1,004", "completion": "#### 1004"}])
check(rc == 0 and out and out[0]["correct"] is True, "gold taken from the 'answer' text by the same rule")

# ---- dedup against what the paper keeps
cands, expected = [], {}
for d in read_jsonl(os.path.join(DATA, "dedup", "candidates.jsonl")):
    for i, c in enumerate(d["completions"]):
        cands.append({"qid": d["qid"], "query": d["query"], "completion": c, "idx": i, "correct": True})
for e in read_jsonl(os.path.join(DATA, "dedup", "expected.jsonl")):
    expected[e["qid"]] = e["kept"]


def kept_by_qid(out):
    got = {}
    for o in out:
        got.setdefault(o["qid"], []).append(o["idx"])
    return got


def same_as_expected(got):
    return all(got.get(q, []) == k for q, k in expected.items()) and set(got) <= set(expected)


rc, out, _ = stage("dedup", cands)
check(rc == 0 and same_as_expected(kept_by_qid(out)),
      f"dedup keeps the paper's paths, in kept order, for all {len(expected)} questions")
check(all(set(o) == {"qid", "query", "completion", "idx", "correct"} for o in out),
      "dedup passes records through unchanged")

# incorrect records are dropped whatever their equations
rc, out, _ = stage("dedup", [dict(c, correct=False) for c in cands[:50]])
check(rc == 0 and out == [], "dedup drops records with correct: false")

# interleaved questions (each question's own order kept)
rng = random.Random(3)
queues = {}
for c in cands:
    queues.setdefault(c["qid"], []).append(c)
order = [q for q in queues for _ in queues[q]]
rng.shuffle(order)
inter = [queues[q].pop(0) for q in order]
rc, out, _ = stage("dedup", inter, "grouped=false")
check(rc == 0 and same_as_expected(kept_by_qid(out)), "dedup grouped=false on interleaved input")
rc, out, err = stage("dedup", inter, expect_ok=False)
check(rc != 0 and "grouped=false" in err, "dedup grouped=true refuses interleaved input with a hint")

# ---- aggregate: two producers, sieve run
with tempfile.TemporaryDirectory() as tmp:
    half = sorted(expected)[: len(expected) // 2]
    a = [c for c in cands if c["qid"] in half]
    b = [c for c in cands if c["qid"] not in half]
    shared_q = sorted(expected)[-1]
    a += [c for c in cands if c["qid"] == shared_q]     # one question from both models
    sft = [{"question": "What is 2+2?", "answer": "2+2=<<2+2=4>>4\n#### 4"}]
    for name, recs in (("a", [dict(x, model="m-a") for x in a]), ("b", [dict(x, model="m-b") for x in b]),
                       ("sft", sft)):
        with open(os.path.join(tmp, name + ".jsonl"), "w") as f:
            f.writelines(json.dumps(x) + "\n" for x in recs)
    yaml = f"""pipeline: agg-test
stages:
  a:   {{plugin: jsonl-read, params: {{path: {tmp}/a.jsonl}}}}
  b:   {{plugin: jsonl-read, params: {{path: {tmp}/b.jsonl}}}}
  sft: {{plugin: jsonl-read, params: {{path: {tmp}/sft.jsonl}}}}
  agg: {{plugin: aggregate, input: [a, b, sft]}}
  out: {{plugin: jsonl-write, input: agg, params: {{path: {tmp}/out.jsonl}}}}
  qr:  {{plugin: aggregate, input: [a, b, sft], params: {{format: query-response}}}}
  out2: {{plugin: jsonl-write, input: qr, params: {{path: {tmp}/qr.jsonl}}}}
"""
    with open(os.path.join(tmp, "p.yaml"), "w") as f:
        f.write(yaml)
    r = subprocess.run([SIEVE, "run", os.path.join(tmp, "p.yaml"), "--runs-dir", tmp, "-q"],
                       capture_output=True, text=True)
    if r.returncode:
        print(r.stderr[-2000:])
    out = read_jsonl(os.path.join(tmp, "out.jsonl")) if r.returncode == 0 else []
    paths = [o for o in out if "completion" in o]
    got = kept_by_qid(paths)
    # The question both models sent arrives interleaved, so which duplicate
    # stays depends on timing; its number of kept paths does not.
    n_shared_got = len(got.pop(shared_q, []))
    exp_shared = expected.pop(shared_q)
    check(r.returncode == 0 and same_as_expected(got) and n_shared_got == len(exp_shared),
          "aggregate keeps the paper's paths per question")
    expected[shared_q] = exp_shared
    check(sum(1 for o in out if "answer" in o and "completion" not in o) == 1,
          "aggregate passes the SFT line through")
    qr = read_jsonl(os.path.join(tmp, "qr.jsonl")) if r.returncode == 0 else []
    check(len(qr) == len(out) and all(set(o) == {"query", "response"} for o in qr)
          and any(o["response"].startswith("2+2=") for o in qr),
          "aggregate format=query-response writes the paper's training lines")
    metrics = []
    for root, _, files in os.walk(tmp):
        if "metrics.jsonl" in files:
            metrics = read_jsonl(os.path.join(root, "metrics.jsonl"))
    per_model = {m["model"]: m for m in metrics if "model" in m and m.get("stage") == "agg"}
    total = [m for m in metrics if "shared_equation_lists" in m and m.get("stage") == "agg"]
    n_shared = len(expected[shared_q])
    check(set(per_model) >= {"m-a", "m-b"} and total and total[0]["shared_equation_lists"] == n_shared,
          f"aggregate reports each model and the overlap ({n_shared} shared equation lists)")
    check(per_model and per_model["m-a"]["kept"] + per_model["m-b"]["kept"] == len(paths),
          "aggregate's per-model contributions add up to the kept set")

# ---- pipelines/gsm8k-rft-data.yaml: two models' samples -> SFT lines + distinct paths
SRC = os.environ.get("SIEVE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
train = read_jsonl(os.path.join(DATA, "gsm8k", "train.jsonl"))
with tempfile.TemporaryDirectory() as tmp:
    files = {"a": [], "b": []}
    n_distinct = 0
    for d in read_jsonl(os.path.join(DATA, "dedup", "candidates.jsonl")):
        t = train[int(d["qid"].split("-")[1])]
        assert t["question"] == d["query"]
        for i, c in enumerate(d["completions"]):
            files["a" if i < 5 else "b"].append({"qid": d["qid"], "question": t["question"],
                                                  "answer": t["answer"], "completion": c,
                                                  "model": "model-" + ("a" if i < 5 else "b")})
    n_distinct = sum(e["distinct_equation_lists"]
                     for e in read_jsonl(os.path.join(DATA, "dedup", "expected.jsonl")))
    for k, recs in files.items():
        with open(os.path.join(tmp, k + ".jsonl"), "w") as f:
            f.writelines(json.dumps(x) + "\n" for x in recs)
    r = subprocess.run([SIEVE, "run", os.path.join(SRC, "pipelines", "gsm8k-rft-data.yaml"), "-q",
                        "--runs-dir", tmp, "--set", f"sft.path={DATA}/gsm8k/train.jsonl",
                        "--set", f"model_a.path={tmp}/a.jsonl", "--set", f"model_b.path={tmp}/b.jsonl"],
                       capture_output=True, text=True, cwd=SRC)
    if r.returncode:
        print(r.stderr[-2000:])
    out = []
    for root, _, fs in os.walk(tmp):
        if "rft_train.jsonl" in fs:
            out = read_jsonl(os.path.join(root, "rft_train.jsonl"))
    # Some kept paths are the gold solution itself, so count, not classify.
    got_pairs = {}
    for o in out:
        got_pairs[(o["query"], o["response"])] = got_pairs.get((o["query"], o["response"]), 0) + 1
    all_sft = all(got_pairs.get((t["question"], t["answer"]), 0) >= 1 for t in train)
    check(r.returncode == 0 and all(set(o) == {"query", "response"} for o in out)
          and all_sft and len(out) == len(train) + n_distinct,
          f"gsm8k-rft-data.yaml: {len(train)} SFT lines + {n_distinct} distinct paths "
          f"(got {len(out)} lines, every SFT line there: {all_sft})")

# ---- evaluate on hand-made samples
# q1: 4 samples, greedy correct, answers 5,5,6,None; correct when 5 -> maj 5 correct; c=2
# q2: 4 samples, greedy wrong (7), answers 7,8,8,8, correct when 8 -> maj correct; c=3
# q3: 4 samples, all wrong, answers 1,2,2,None -> maj 2 wrong; c=0
S = []
for qid, rows in (("q1", [("5", 1), ("5", 1), ("6", 0), (None, 0)]),
                  ("q2", [("7", 0), ("8", 1), ("8", 1), ("8", 1)]),
                  ("q3", [("1", 0), ("2", 0), ("2", 0), (None, 0)])):
    for i, (x, c) in enumerate(rows):
        S.append({"qid": qid, "sample_index": i, "extracted": x, "correct": bool(c)})
with tempfile.TemporaryDirectory() as tmp:
    rc, out, _ = stage("evaluate", S, f"output_dir={tmp}/m", "pass_k=1,2,4")
    m = json.load(open(f"{tmp}/m/metrics.json")) if rc == 0 else {}
    md = open(f"{tmp}/m/metrics.md").read() if rc == 0 else ""
    # pass@2: q1 1-C(2,2)/C(4,2)=5/6, q2 1-0=1, q3 0 -> (5/6+1)/3
    exp = {"questions": 3, "samples": 12, "maj1@1": 1 / 3, "maj1@K": 2 / 3,
           "pass@k": {"1": (0.5 + 0.75 + 0) / 3, "2": (5 / 6 + 1) / 3, "4": 2 / 3}}
    ok = (m.get("questions") == 3 and m.get("samples") == 12 and abs(m["maj1@1"] - exp["maj1@1"]) < 1e-6
          and abs(m["maj1@K"] - exp["maj1@K"]) < 1e-6
          and all(abs(m["pass@k"][k] - v) < 1e-6 for k, v in exp["pass@k"].items()))
    check(ok, "evaluate: maj1@1, maj1@K and pass@k as computed by hand")
    # k = 4: bins (0], (0,0.8], (0.8,1.6], ... hold the integers 0, -, 1, 2, 3, 4
    check(m.get("solved_histogram") == {"0": 1, "1": 0, "2": 1, "3": 1, "4": 0},
          "evaluate: the solved histogram by hand")
    lo, hi = m.get("accuracy_ci95", [0, 0])
    check(lo < 1 / 3 < hi, "evaluate: the accuracy interval holds the accuracy")
    check("| maj1@1" in md and out and out[0].get("questions") == 3,
          "evaluate writes metrics.md and emits the metrics record")

print(f"{failures} failures")
sys.exit(1 if failures else 0)
