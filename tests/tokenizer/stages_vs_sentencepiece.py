#!/usr/bin/python3
"""The tokenizer stages end to end through `sieve stage`, checked against
independent references: SentencePiece's golden file, and Debian's
python3-sentencepiece (the C++ library) on random strings, on a model written
by our writer and on a model learned by our trainer.

Exit 77 (skipped) when python3-sentencepiece is missing."""
import json
import os
import random
import subprocess
import sys
import tempfile

try:
    import sentencepiece as spm
except ImportError:
    print("python3-sentencepiece is not installed: skipped")
    sys.exit(77)

SIEVE = os.environ["SIEVE_BIN"]
SHARED = os.environ["SIEVE_SHARED_DATA"]
LLAMA = os.path.join(SHARED, "tokenizer", "llama2")
failures = 0


def check(name, cond, detail=""):
    global failures
    if cond:
        print("ok  ", name)
    else:
        failures += 1
        print("FAIL", name, detail)


def stage(name, records, *params, expect_ok=True):
    args = [SIEVE, "stage", name]
    for p in params:
        args += ["--param", p]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    p = subprocess.run(args, input=text.encode(), capture_output=True, timeout=300)
    if expect_ok and p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
    out = [json.loads(l) for l in p.stdout.decode().split("\n") if l.strip()]
    return out, p.returncode, p.stderr.decode(errors="replace")


def golden_through_stages():
    gold = [json.loads(l) for l in open(os.path.join(LLAMA, "golden.jsonl"), encoding="utf-8")]
    recs = [{"text": g["text"]} for g in gold]
    out, _, _ = stage("tokenize", recs, f"tokenizer={LLAMA}")
    bad = [i for i, (o, g) in enumerate(zip(out, gold)) if o.get("ids") != g["ids"]]
    check("tokenize stage matches every golden record", len(out) == len(gold) and not bad,
          f"{len(bad)} differ, first {bad[:3]}")
    # the model file given directly, and bos/eos
    out2, _, _ = stage("tokenize", recs[:50], f"tokenizer={LLAMA}/tokenizer.model",
                       "bos=true", "eos=true", "input=text", "output=toks")
    check("bos/eos wrap the ids; field names are configurable",
          all(o["toks"] == [1] + g["ids"] + [2] for o, g in zip(out2, gold[:50])))
    back, _, _ = stage("detokenize", out, f"tokenizer={LLAMA}", "output=back")
    bad = [i for i, (b, g) in enumerate(zip(back, gold)) if b.get("back") != g["text"]]
    check("detokenize gives back every golden text", not bad, f"first {bad[:3]}")
    # one thread and several threads agree, record order kept
    many = recs * 4
    one, _, _ = stage("tokenize", many, f"tokenizer={LLAMA}", "threads=1")
    four, _, _ = stage("tokenize", many, f"tokenizer={LLAMA}", "threads=4")
    check("threads=1 and threads=4 give the same records in order", one == four)


def random_text(rng):
    pieces = ["the", "The", " ", "  ", "\n", "\n\n", "\t", "12", "3.5", "$", "<<", "48/2=24>>",
              "####", "é", "ñ", "ü", "Ω", "日本語", "中文", "한국어", "😀", "👍🏽", "\u0301",
              "\u00a0", "\u2581", "\ufffd", "\x01", "\x7f", "Natalia", "clips", "?", "!", "'s",
              "ﬁ", "№", "½", "\u200b", "𝔘", "Ǆ", "ℌ", "«", "»", "—", "…"]
    n = rng.randint(0, 12)
    s = "".join(rng.choice(pieces) if rng.random() < 0.7 else chr(rng.randint(32, 0x2FFF))
                for _ in range(n))
    # avoid surrogates, which JSON text cannot carry as UTF-8
    return "".join(c for c in s if not 0xD800 <= ord(c) <= 0xDFFF)


def differential_random_strings():
    sp = spm.SentencePieceProcessor(model_file=os.path.join(LLAMA, "tokenizer.model"))
    rng = random.Random(7)
    texts = [random_text(rng) for _ in range(3000)]
    out, _, _ = stage("tokenize", [{"text": t} for t in texts], f"tokenizer={LLAMA}")
    bad = [t for t, o in zip(texts, out) if o["ids"] != sp.encode(t)]
    check("3000 random strings encode as python3-sentencepiece does", not bad,
          f"{len(bad)} differ, e.g. {bad[:2]!r}")
    back, _, _ = stage("detokenize", out, f"tokenizer={LLAMA}")
    bad = [t for t, b in zip(texts, back) if b["text"] != sp.decode(sp.encode(t))]
    check("their decodes match python3-sentencepiece", not bad, f"e.g. {bad[:2]!r}")


def random_id_sequences_decode_as_sentencepiece():
    """Decoding what a sampler may produce: any ids, byte pieces out of
    order, control and unknown pieces, lone `▁` at the start."""
    sp = spm.SentencePieceProcessor(model_file=os.path.join(LLAMA, "tokenizer.model"))
    rng = random.Random(5)
    seqs = []
    for _ in range(2000):
        seqs.append([rng.choice([rng.randint(0, 31999), rng.randint(3, 258),
                                 rng.choice([0, 1, 2, 29871, 259, 1678, 268]),
                                 rng.randint(3 + 0x80, 3 + 0xff)])
                     for _ in range(rng.randint(0, 12))])
    out, _, _ = stage("detokenize", [{"ids": s} for s in seqs], f"tokenizer={LLAMA}")
    bad = [s for s, o in zip(seqs, out) if o["text"] != sp.decode(s)]
    check("2000 random id sequences decode as python3-sentencepiece does", not bad,
          f"{len(bad)} differ, e.g. {bad[:2]}")


def trained_model_agrees_with_sentencepiece(tmp):
    gsm = [json.loads(l) for l in open(os.path.join(SHARED, "gsm8k", "train.jsonl"))][:400]
    texts = [g["question"] for g in gsm] + [g["answer"] for g in gsm]
    path = os.path.join(tmp, "tiny", "tokenizer.model")
    out, rc, err = stage("tokenizer-train", [{"text": t} for t in texts], f"output={path}",
                         "vocab_size=700")
    check("tokenizer-train writes the model and emits its path",
          rc == 0 and out == [{"tokenizer": path}] and os.path.exists(path), err)
    sp = spm.SentencePieceProcessor(model_file=path)
    check("python3-sentencepiece loads the trained model with 700 pieces",
          sp.get_piece_size() == 700 and sp.bos_id() == 1 and sp.eos_id() == 2)
    rng = random.Random(3)
    probe = texts[:200] + [random_text(rng) for _ in range(500)]
    enc, _, _ = stage("tokenize", [{"text": t} for t in probe], f"tokenizer={os.path.dirname(path)}")
    bad = [t for t, o in zip(probe, enc) if o["ids"] != sp.encode(t)]
    check("the trained model encodes as python3-sentencepiece encodes it", not bad,
          f"{len(bad)} differ, e.g. {bad[:2]!r}")
    back, _, _ = stage("detokenize", enc, f"tokenizer={path}")
    check("the trained model round-trips the training texts",
          all(b["text"] == t for b, t in zip(back[:200], texts[:200])))
    n_tok = sum(len(o["ids"]) for o in enc[:200])
    n_chr = sum(len(t) for t in texts[:200])
    check("merges compress the training texts (fewer than 0.6 tokens per character)",
          n_tok < 0.6 * n_chr, f"{n_tok} tokens for {n_chr} characters")


def sentencepiece_trained_models_agree(tmp):
    """Models trained by SentencePiece itself exercise what LLaMA's does not:
    an nmt_nfkc precompiled character map, user-defined pieces, whitespace
    folding, and (second model) no byte fallback."""
    gsm = [json.loads(l) for l in open(os.path.join(SHARED, "gsm8k", "train.jsonl"))][:600]
    corpus = os.path.join(tmp, "corpus.txt")
    extra = "\uff21\uff22\uff23\u3000\uff46\uff55\uff4c\uff4c \ufb01 \u2460 \u337f \u216b \uff76\uff80\uff76\uff85"
    with open(corpus, "w", encoding="utf-8") as f:
        for g in gsm:
            f.write(g["question"] + "\n" + g["answer"] + "\n")
        f.write(extra + "\n")
    rng = random.Random(11)
    probe = [g["question"] for g in gsm[:100]] + [random_text(rng) for _ in range(1500)] + [
        extra, "  <sep>  <<3*4=12>>  ", "\u3000\u3000x", "A\u0301 \u00c5 \u212b", ""]
    for name, opts in [("nfkc", dict(normalization_rule_name="nmt_nfkc", byte_fallback=True,
                                     user_defined_symbols=["<sep>", "<<"])),
                       ("plain", dict(byte_fallback=False))]:
        prefix = os.path.join(tmp, name)
        spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=700,
                                       model_type="bpe", character_coverage=1.0,
                                       minloglevel=2, **opts)
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
        enc, _, _ = stage("tokenize", [{"text": t} for t in probe], f"tokenizer={prefix}.model")
        bad = [t for t, o in zip(probe, enc) if o["ids"] != sp.encode(t)]
        check(f"SentencePiece-trained model '{name}' encodes as python3-sentencepiece", not bad,
              f"{len(bad)} differ, e.g. {bad[:2]!r}")
        back, _, _ = stage("detokenize", enc, f"tokenizer={prefix}.model")
        bad = [t for t, b in zip(probe, back) if b["text"] != sp.decode(sp.encode(t))]
        check(f"... and decodes as python3-sentencepiece ('{name}')", not bad,
              f"{len(bad)} differ, e.g. {bad[:2]!r}")


def errors_are_clear(tmp):
    _, rc, err = stage("tokenize", [{"text": "a"}, {"other": 1}], f"tokenizer={LLAMA}",
                       expect_ok=False)
    check("a record without the field fails, naming record and field",
          rc != 0 and "record 2" in err and "'text'" in err, err)
    bad = os.path.join(tmp, "bad.model")
    with open(os.path.join(LLAMA, "tokenizer.model"), "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[:len(data) // 2])
    _, rc, err = stage("tokenize", [{"text": "a"}], f"tokenizer={bad}", expect_ok=False)
    check("a truncated model fails with a message naming the file",
          rc != 0 and "bad.model" in err and "malformed" in err, err)
    _, rc, err = stage("tokenize", [{"text": "a"}], f"tokenizer={tmp}", expect_ok=False)
    check("a directory without tokenizer.model fails clearly",
          rc != 0 and "no tokenizer.model" in err, err)
    _, rc, err = stage("detokenize", [{"ids": [1, 40000]}], f"tokenizer={LLAMA}",
                       expect_ok=False)
    check("detokenize rejects an id outside the vocabulary", rc != 0 and "40000" in err, err)


def main():
    with tempfile.TemporaryDirectory(prefix="sieve-tok-") as tmp:
        golden_through_stages()
        differential_random_strings()
        random_id_sequences_decode_as_sentencepiece()
        trained_model_agrees_with_sentencepiece(tmp)
        sentencepiece_trained_models_agree(tmp)
        errors_are_clear(tmp)
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
