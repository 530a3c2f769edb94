#!/usr/bin/python3
"""PyTorch oracle for sieve's LLaMA: an independent implementation written from
the Hugging Face definition of LlamaForCausalLM (transformers'
models/llama/modeling_llama.py), never from sieve's C code.

Pure PyTorch + the standard library: safetensors and config.json are read and
written here with struct/json (neither transformers nor the safetensors package
is needed). Run with /usr/bin/python3.

Subcommands
  make-model --config JSON --out DIR --seed S [--dtype f32|bf16|f16]
      HF directory (config.json, model.safetensors) with HF's init:
      Linear/Embedding ~ normal(0, initializer_range), RMSNorm weights 1.
  make-model ... [--shards N]   (N > 1: model-0000i-of-0000N + index.json)
  logits --model DIR --ids "1,2,3[;4,5,6]" --out FILE [--dtype f64|f32]
      Reference logits of each sequence (equal lengths), little-endian f32,
      shape [B, T, V], row-major, no header. Computed in f64 by default.
      --ids/--out may repeat (pairs), to pay for one Python start only.
  logprobs --model DIR --ids ... --out FILE
      Like logits, but log p(ids[t+1] | ids[..t]) as [B, T-1] f32.
  bench --config JSON --batch B --seq T --threads N [--reps R]
      Times the f32 scoring forward (logits, log-softmax, gather) and prints
      one JSON line {"tokens_per_s": ..., "threads": N}.
(Room for later: generate, grads.)
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch

# --------------------------------------------------------------------------
# safetensors (format: u64 header length, JSON header, raw little-endian data)

_DT = {"F32": (torch.float32, 4), "BF16": (torch.bfloat16, 2), "F16": (torch.float16, 2),
       "F64": (torch.float64, 8)}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dt, size = _DT[e["dtype"]]
        b, en = e["data_offsets"]
        buf = bytearray(data[b:en])
        if not buf:
            t = torch.zeros(0, dtype=torch.float32)
        elif dt == torch.bfloat16:
            # bf16 is the top half of an f32: widen the bits exactly
            t = (torch.frombuffer(buf, dtype=torch.int16).to(torch.int32) << 16).view(torch.float32)
        else:
            t = torch.frombuffer(buf, dtype=dt).clone()
        out[name] = t.reshape(e["shape"])
    return out


def read_model_tensors(d):
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        out = {}
        for fn in files:
            out.update(read_safetensors(os.path.join(d, fn)))
        return out
    return read_safetensors(os.path.join(d, "model.safetensors"))


def write_safetensors(path, tensors, dtype="f32"):
    names = sorted(tensors)
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for n in names:
        t = tensors[n].detach().to(torch.float32).contiguous()
        if dtype == "bf16":
            b = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
            dt = "BF16"
        elif dtype == "f16":
            b = t.to(torch.float16).numpy().tobytes()
            dt = "F16"
        else:
            b = t.numpy().tobytes()
            dt = "F32"
        header[n] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# config (LlamaConfig defaults)

def load_config(path_or_dict):
    if isinstance(path_or_dict, dict):
        c = dict(path_or_dict)
    else:
        with open(path_or_dict) as f:
            c = json.load(f)
    c.setdefault("num_key_value_heads", c["num_attention_heads"])
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    c.setdefault("rms_norm_eps", 1e-6)
    c.setdefault("rope_theta", 10000.0)
    c.setdefault("initializer_range", 0.02)
    c.setdefault("tie_word_embeddings", False)
    c.setdefault("max_position_embeddings", 2048)
    return c


def param_shapes(c):
    D, F, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    H, KV, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    s = {"model.embed_tokens.weight": (V, D), "model.norm.weight": (D,)}
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        s[p + "input_layernorm.weight"] = (D,)
        s[p + "post_attention_layernorm.weight"] = (D,)
        s[p + "self_attn.q_proj.weight"] = (H * hd, D)
        s[p + "self_attn.k_proj.weight"] = (KV * hd, D)
        s[p + "self_attn.v_proj.weight"] = (KV * hd, D)
        s[p + "self_attn.o_proj.weight"] = (D, H * hd)
        s[p + "mlp.gate_proj.weight"] = (F, D)
        s[p + "mlp.up_proj.weight"] = (F, D)
        s[p + "mlp.down_proj.weight"] = (D, F)
    if not c["tie_word_embeddings"]:
        s["lm_head.weight"] = (V, D)
    return s


def init_params(c, seed):
    """HF _init_weights: nn.Linear and nn.Embedding weights ~ N(0, std),
    LlamaRMSNorm weights = 1 (no biases in LLaMA)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in sorted(param_shapes(c).items()):
        if len(shape) == 1:
            out[name] = torch.ones(shape)
        else:
            out[name] = torch.empty(shape).normal_(0.0, c["initializer_range"], generator=g)
    return out


# --------------------------------------------------------------------------
# the model, as modeling_llama.py defines it

def rms_norm(x, w, eps):
    # LlamaRMSNorm: variance in f32 (or wider), x * rsqrt(var + eps), then weight
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def rotary_cos_sin(c, positions, dtype):
    # LlamaRotaryEmbedding (default rope type): inv_freq from an int64 arange
    hd = c["head_dim"]
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).to(dtype) / hd))
    freqs = positions.to(dtype)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, kv, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, kv, n_rep, s, d).reshape(b, kv * n_rep, s, d)


def forward(c, P, ids, dtype=torch.float64):
    """ids: LongTensor [B, T]. Returns logits [B, T, V] in dtype."""
    P = {k: v.to(dtype) for k, v in P.items()}
    B, T = ids.shape
    H, KV, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    eps = c["rms_norm_eps"]
    x = P["model.embed_tokens.weight"][ids]
    cos, sin = rotary_cos_sin(c, torch.arange(T), dtype)
    cos, sin = cos[None, None], sin[None, None]   # unsqueeze over batch and heads
    mask = torch.full((T, T), float("-inf"), dtype=dtype).triu(1)
    scaling = hd ** -0.5
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, P[p + "input_layernorm.weight"], eps)
        q = (h @ P[p + "self_attn.q_proj.weight"].T).view(B, T, H, hd).transpose(1, 2)
        k = (h @ P[p + "self_attn.k_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
        v = (h @ P[p + "self_attn.v_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, H // KV), repeat_kv(v, H // KV)
        w = torch.matmul(q, k.transpose(2, 3)) * scaling + mask
        w = torch.softmax(w, dim=-1)
        a = torch.matmul(w, v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + a @ P[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        g = h @ P[p + "mlp.gate_proj.weight"].T
        u = h @ P[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ P[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight"] if c["tie_word_embeddings"] else P["lm_head.weight"]
    return x @ head.T


# --------------------------------------------------------------------------
# commands

def parse_ids(s):
    if s.startswith("@"):
        with open(s[1:]) as f:
            s = f.read().strip()
    rows = [[int(t) for t in r.split(",") if t.strip()] for r in s.split(";") if r.strip()]
    if len({len(r) for r in rows}) != 1:
        sys.exit("oracle: sequences must have equal lengths")
    return torch.tensor(rows, dtype=torch.long)


def write_config(c, path, dtype):
    c = dict(c)
    c.update({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "hidden_act": "silu", "attention_bias": False, "mlp_bias": False,
              "torch_dtype": {"bf16": "bfloat16", "f16": "float16"}.get(dtype, "float32")})
    with open(path, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")


def cmd_make_model(a):
    c = load_config(a.config)
    os.makedirs(a.out, exist_ok=True)
    P = init_params(c, a.seed)
    if a.shards <= 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), P, a.dtype)
    else:
        # HF's sharded layout: model-0000i-of-0000n.safetensors + index
        names = sorted(P)
        wmap = {}
        for i in range(a.shards):
            fn = f"model-{i + 1:05d}-of-{a.shards:05d}.safetensors"
            part = {n: P[n] for n in names[i::a.shards]}
            write_safetensors(os.path.join(a.out, fn), part, a.dtype)
            wmap.update({n: fn for n in part})
        total = sum(t.numel() for t in P.values()) * (4 if a.dtype == "f32" else 2)
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": wmap}, f, indent=2)
    write_config(c, os.path.join(a.out, "config.json"), a.dtype)


def load_model(d):
    c = load_config(os.path.join(d, "config.json"))
    return c, read_model_tensors(d)


def _pairs(a):
    if len(a.ids) != len(a.out):
        sys.exit("oracle: give one --out per --ids")
    return zip(a.ids, a.out)


def cmd_logits(a):
    c, P = load_model(a.model)
    dt = torch.float64 if a.dtype == "f64" else torch.float32
    for ids, out in _pairs(a):
        with torch.no_grad():
            logits = forward(c, P, parse_ids(ids), dt)
        with open(out, "wb") as f:
            f.write(logits.to(torch.float32).contiguous().numpy().tobytes())


def cmd_logprobs(a):
    c, P = load_model(a.model)
    dt = torch.float64 if a.dtype == "f64" else torch.float32
    for s, out in _pairs(a):
        ids = parse_ids(s)
        with torch.no_grad():
            lp = torch.log_softmax(forward(c, P, ids, dt), dim=-1)
            lp = lp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
        with open(out, "wb") as f:
            f.write(lp.to(torch.float32).contiguous().numpy().tobytes())


TINY = {"hidden_size": 288, "intermediate_size": 768, "num_hidden_layers": 6,
        "num_attention_heads": 6, "num_key_value_heads": 6, "vocab_size": 32000,
        "rms_norm_eps": 1e-5, "max_position_embeddings": 1024}


def cmd_bench(a):
    torch.set_num_threads(a.threads)
    c = load_config(TINY if a.config == "tiny" else a.config)
    P = init_params(c, 1)
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, c["vocab_size"], (a.batch, a.seq), generator=g)
    best = float("inf")
    with torch.no_grad():
        for _ in range(a.reps):
            t0 = time.perf_counter()
            lp = torch.log_softmax(forward(c, P, ids, torch.float32), dim=-1)
            lp[:, :-1].gather(-1, ids[:, 1:, None])
            best = min(best, time.perf_counter() - t0)
    print(json.dumps({"tokens_per_s": a.batch * a.seq / best, "threads": a.threads,
                      "seconds": best}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("make-model")
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["f32", "bf16", "f16"], default="f32")
    p.add_argument("--shards", type=int, default=1)
    p.set_defaults(fn=cmd_make_model)
    for name, fn in (("logits", cmd_logits), ("logprobs", cmd_logprobs)):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
        p.add_argument("--ids", required=True, action="append",
                       help="comma-separated ids, ';' between sequences, or @FILE; repeatable")
        p.add_argument("--out", required=True, action="append")
        p.add_argument("--dtype", choices=["f64", "f32"], default="f64")
        p.set_defaults(fn=fn)
    p = sub.add_parser("bench")
    p.add_argument("--config", default="tiny")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.set_defaults(fn=cmd_bench)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
