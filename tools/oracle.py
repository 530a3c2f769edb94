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
  grads --model DIR --ids ... --labels ... --out DIR
      HF causal-LM loss (labels -100 ignored) and every parameter gradient in
      f64: DIR/model.safetensors (gradients under the weights' names),
      DIR/config.json, DIR/loss.json.
  train-steps --model DIR --ids ... --labels ... --out DIR [--steps 5 --lr ...]
      torch.optim.AdamW steps on that batch (f64): DIR/losses.json and the
      weights after the last step as an HF directory.
  bench-train --config tiny --batch B --seq T --threads N
      Times f32 training steps (forward, loss, backward, AdamW); one JSON line.
  generate --model DIR --ids "1,2;3,4,5" [--max-new-tokens N] [--eos ID]
      Greedy generation with HF generate() semantics (full forward per
      step, f64): one JSON line per prompt {"ids", "finish_reason", "min_margin"}.
  bench-generate --config tiny --batch B --prompt 64 --new 192 --threads N
      PyTorch f32 decoding with a K/V cache: {"tokens_per_s": ...}.
  batch
      Reads one subcommand per stdin line and runs them in this process
      (torch is imported once: the tests use it to stay fast).
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


def forward(c, P, ids, dtype=torch.float64, positions=None, cache=None, pos0=0):
    """ids: LongTensor [B, T]. Returns logits [B, T, V] in dtype (dtype None:
    P's own dtype, no conversion).
    positions (LongTensor [B, T], optional): rows packing several sequences;
    each token's position inside its own sequence (-1 on padding). RoPE uses
    them and a token attends only to the earlier tokens of its own sequence
    (padding only to itself).
    cache (list, optional; not with positions): ids are positions pos0.. after
    the pos0 already in cache (per layer [k, v], [B, KV, pos0, hd], grown by
    cat as HF's DynamicCache; pass [] with pos0=0 to prefill). Returns only
    the last position's logits [B, V] (final norm and head on it alone)."""
    if dtype is not None:
        P = {k: v.to(dtype) for k, v in P.items()}
    B, T = ids.shape
    H, KV, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    eps = c["rms_norm_eps"]
    x = P["model.embed_tokens.weight"][ids]
    dtype = x.dtype
    if positions is None:
        cos, sin = rotary_cos_sin(c, torch.arange(pos0, pos0 + T), dtype)
        cos, sin = cos[None, None], sin[None, None]   # unsqueeze over batch and heads
        mask = torch.full((T, pos0 + T), float("-inf"), dtype=dtype).triu(pos0 + 1)
    else:
        assert cache is None, "packed positions take no cache"
        cos, sin = rotary_cos_sin(c, positions.reshape(-1), dtype)
        cos, sin = cos.view(B, 1, T, hd), sin.view(B, 1, T, hd)
        idx = torch.arange(T)
        start = torch.where(positions < 0, idx[None], idx[None] - positions)   # [B, T]
        keys = idx[None, None, :]
        seen = (keys <= idx[None, :, None]) & (keys >= start[:, :, None])      # [B, Tq, Tk]
        mask = torch.zeros(B, 1, T, T, dtype=dtype).masked_fill(~seen[:, None], float("-inf"))
    scaling = hd ** -0.5
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, P[p + "input_layernorm.weight"], eps)
        q = (h @ P[p + "self_attn.q_proj.weight"].T).view(B, T, H, hd).transpose(1, 2)
        k = (h @ P[p + "self_attn.k_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
        v = (h @ P[p + "self_attn.v_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if len(cache) <= l:
                cache.append([k, v])
            else:
                cache[l][0] = torch.cat([cache[l][0], k], dim=2)
                cache[l][1] = torch.cat([cache[l][1], v], dim=2)
            k, v = cache[l]
        k, v = repeat_kv(k, H // KV), repeat_kv(v, H // KV)
        w = torch.matmul(q, k.transpose(2, 3)) * scaling + mask
        w = torch.softmax(w, dim=-1)
        a = torch.matmul(w, v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + a @ P[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        g = h @ P[p + "mlp.gate_proj.weight"].T
        u = h @ P[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ P[p + "mlp.down_proj.weight"].T
    if cache is not None:
        x = x[:, -1:]
    x = rms_norm(x, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight"] if c["tie_word_embeddings"] else P["lm_head.weight"]
    logits = x @ head.T
    return logits if cache is None else logits[:, -1]


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
    best, best_cpu = float("inf"), float("inf")
    with torch.no_grad():
        for _ in range(a.reps):
            t0, c0 = time.perf_counter(), time.process_time()
            lp = torch.log_softmax(forward(c, P, ids, torch.float32), dim=-1)
            lp[:, :-1].gather(-1, ids[:, 1:, None])
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
    print(json.dumps({"tokens_per_s": a.batch * a.seq / best, "threads": a.threads,
                      "seconds": best, "cpu_seconds": best_cpu}))


# --------------------------------------------------------------------------
# training: loss and gradients, AdamW steps, a training benchmark
# (HF LlamaForCausalLM's loss: logits[:, :-1] against labels[:, 1:], mean
# cross-entropy over labels != -100; torch.optim.AdamW;
# torch.nn.utils.clip_grad_norm_)

def _leaf_params(P, dtype):
    return {k: v.detach().to(dtype).clone().requires_grad_(True) for k, v in P.items()}


def hf_causal_lm_loss(c, P, ids, labels, dtype, positions=None):
    logits = forward(c, P, ids, dtype, positions)
    V = logits.shape[-1]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)


def _write_model_dir(c, tensors, out):
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "model.safetensors"), tensors, "f32")
    write_config(c, os.path.join(out, "config.json"), "f32")


def cmd_grads(a):
    """Loss and every parameter's gradient for one batch, in f64. Gradients
    are written as an HF model directory (same names and shapes as the
    weights) so that the model loader reads them back."""
    c, P = load_model(a.model)
    ids, labels = parse_ids(a.ids), parse_ids(a.labels)
    positions = parse_ids(a.positions) if getattr(a, "positions", None) else None
    L = _leaf_params(P, torch.float64)
    loss = hf_causal_lm_loss(c, L, ids, labels, torch.float64, positions)
    loss.backward()
    _write_model_dir(c, {k: v.grad for k, v in L.items()}, a.out)
    with open(os.path.join(a.out, "loss.json"), "w") as f:
        json.dump({"loss": loss.item()}, f)


def cmd_train_steps(a):
    """`steps` AdamW steps on one fixed batch (f64): the loss before each step
    and the weights after the last, as an HF model directory."""
    c, P = load_model(a.model)
    ids, labels = parse_ids(a.ids), parse_ids(a.labels)
    L = _leaf_params(P, torch.float64)
    names = sorted(L)
    opt = torch.optim.AdamW([L[n] for n in names], lr=a.lr, betas=(a.beta1, a.beta2),
                            eps=a.eps, weight_decay=a.weight_decay)
    losses, norms = [], []
    for step in range(a.steps):
        opt.zero_grad()
        loss = hf_causal_lm_loss(c, L, ids, labels, torch.float64)
        loss.backward()
        if step == 0 and a.grads_out:
            _write_model_dir(c, {k: v.grad for k, v in L.items()}, a.grads_out)
            with open(os.path.join(a.grads_out, "loss.json"), "w") as f:
                json.dump({"loss": loss.item()}, f)
        if a.max_grad_norm > 0:
            norms.append(torch.nn.utils.clip_grad_norm_([L[n] for n in names], a.max_grad_norm).item())
        opt.step()
        losses.append(loss.item())
    _write_model_dir(c, {k: v.detach() for k, v in L.items()}, a.out)
    with open(os.path.join(a.out, "losses.json"), "w") as f:
        json.dump({"losses": losses, "grad_norms": norms}, f)


def cmd_bench_train(a):
    """Tokens per second of f32 training steps (forward, loss, backward,
    AdamW) of a config on random tokens; one JSON line."""
    torch.set_num_threads(a.threads)
    c = load_config(TINY if a.config == "tiny" else a.config)
    L = _leaf_params(init_params(c, 1), torch.float32)
    opt = torch.optim.AdamW(list(L.values()), lr=1e-4, weight_decay=0.0)
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, c["vocab_size"], (a.batch, a.seq), generator=g)
    best, best_cpu = float("inf"), float("inf")
    for _ in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        hf_causal_lm_loss(c, L, ids, ids, torch.float32).backward()
        opt.step()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    print(json.dumps({"tokens_per_s": a.batch * a.seq / best, "threads": a.threads,
                      "seconds": best, "cpu_seconds": best_cpu}))


def add_training_commands(sub):
    for name, fn in (("grads", cmd_grads), ("train-steps", cmd_train_steps)):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
        p.add_argument("--ids", required=True, help="as for logits: 'a,b;c,d' or @FILE")
        p.add_argument("--labels", required=True, help="like ids; -100 where no loss is taken")
        p.add_argument("--out", required=True, help="output directory")
        p.set_defaults(fn=fn)
        if name == "grads":
            p.add_argument("--positions", help="like ids: packed rows, each token's position "
                           "in its own sequence (-1 on padding); masks attention by sequence")
        if name == "train-steps":
            p.add_argument("--steps", type=int, default=5)
            p.add_argument("--lr", type=float, default=1e-3)
            p.add_argument("--beta1", type=float, default=0.9)
            p.add_argument("--beta2", type=float, default=0.999)
            p.add_argument("--eps", type=float, default=1e-8)
            p.add_argument("--weight-decay", type=float, default=0.0)
            p.add_argument("--max-grad-norm", type=float, default=0.0)
            p.add_argument("--grads-out", help="also write the first step's grads (as grads)")
    p = sub.add_parser("bench-train")
    p.add_argument("--config", default="tiny")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.set_defaults(fn=cmd_bench_train)



# --------------------------------------------------------------------------
# generation (the sampler's oracle and its benchmark peer)

def cmd_generate(a):
    """Greedy decoding with Hugging Face generate()'s semantics: each new token
    is the argmax (first index on ties) of the last position's logits from a
    full forward over prompt + tokens so far; stop after eos_token_id (not
    included in `ids`) or max_new_tokens tokens. One JSON line per prompt:
    {"ids": [...], "finish_reason": "eos"|"length", "min_margin": m}, where
    m is the smallest top-1 minus top-2 logit gap met (how safe the argmax is)."""
    c, P = load_model(a.model)
    dt = torch.float64 if a.dtype == "f64" else torch.float32
    eos = a.eos if a.eos is not None else c.get("eos_token_id")
    prompts = []
    for s in a.ids:
        if s.startswith("@"):
            with open(s[1:]) as f:
                s = f.read().strip()
        prompts += [[int(t) for t in r.split(",") if t.strip()] for r in s.split(";") if r.strip()]
    out = []
    for pr in prompts:
        seq, gen, margin, finish = list(pr), [], float("inf"), "length"
        with torch.no_grad():
            for _ in range(a.max_new_tokens):
                logits = forward(c, P, torch.tensor([seq], dtype=torch.long), dt)[0, -1]
                top = torch.topk(logits, 2).values
                margin = min(margin, float(top[0] - top[1]))
                t = int(torch.argmax(logits))
                if eos is not None and t == eos:
                    finish = "eos"
                    break
                gen.append(t)
                seq.append(t)
        out.append(json.dumps({"ids": gen, "finish_reason": finish, "min_margin": margin}))
    text = "\n".join(out) + "\n"
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def cmd_bench_generate(a):
    """PyTorch f32 decoding with a K/V cache: B sequences of a random prompt
    of --prompt tokens, then --new tokens each (multinomial at temperature
    0.7, no early stop). Prints {"tokens_per_s": generated/s, ...}."""
    torch.set_num_threads(a.threads)
    c = load_config(TINY if a.config == "tiny" else a.config)
    P = init_params(c, 1)
    g = torch.Generator().manual_seed(2)
    best = float("inf")
    with torch.no_grad():
        for _ in range(a.reps):
            ids = torch.randint(0, c["vocab_size"], (a.batch, a.prompt), generator=g)
            t0, c0 = time.perf_counter(), time.process_time()
            cache = []
            logits = forward(c, P, ids, None, cache=cache)
            pos = a.prompt
            for _ in range(a.new):
                probs = torch.softmax(logits / 0.7, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=g)
                logits = forward(c, P, nxt, None, cache=cache, pos0=pos)
                pos += 1
            if time.perf_counter() - t0 < best:
                best, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"tokens_per_s": a.batch * a.new / best, "batch": a.batch,
                      "threads": a.threads, "seconds": best, "cpu_seconds": cpu}))


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
    add_training_commands(sub)
    p = sub.add_parser("generate")
    p.add_argument("--model", required=True)
    p.add_argument("--ids", required=True, action="append",
                   help="prompt ids: comma-separated, ';' between prompts (any lengths), or @FILE")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--eos", type=int, default=None, help="default: config eos_token_id")
    p.add_argument("--dtype", choices=["f64", "f32"], default="f64")
    p.add_argument("--out", default=None)
    p.set_defaults(fn=cmd_generate)
    p = sub.add_parser("bench-generate")
    p.add_argument("--config", default="tiny")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--prompt", type=int, default=64)
    p.add_argument("--new", type=int, default=192)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=1)
    p.set_defaults(fn=cmd_bench_generate)
    p = sub.add_parser("batch", help="run one subcommand per line of stdin (one Python start)")
    p.set_defaults(fn=None)
    a = ap.parse_args()
    if a.cmd == "batch":
        import shlex
        for line in sys.stdin:
            if line.strip():
                b = ap.parse_args(shlex.split(line))
                b.fn(b)
        return
    a.fn(a)


if __name__ == "__main__":
    main()
