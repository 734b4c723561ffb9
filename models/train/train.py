#!/usr/bin/python3
"""Step 2 of `npm run model:train`: trains ChatPulse's bundled model from the arrays prepare.ts wrote
and exports it in the Hugging Face layout (ONNX).

The model is a hybrid: a linear branch over hashed word/char n-grams with TF-IDF weights (exactly a
logistic regression, computed inside the graph: gather, multiply, sum) plus a small transformer encoder
pretrained here with masked-language modelling. Logits are their sum, so the graph is at least as good
as the linear model and the transformer only has to add what n-grams miss. Trained from scratch: no
pretrained weights are used.
"""
import argparse, json, math, os, random, sys, time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as err:  # the npm script runs this with /usr/bin/python3; say what is missing
    sys.exit(f"model:train needs Debian's python3-torch and python3-numpy (apt-get install -y python3-torch python3-onnx python3-numpy python3-sklearn): {err}")

LABELS = ["negative", "neutral", "positive"]
# The labelled sets the classifier trains on. GoEmotions (Reddit comments) is left to masked-language
# pretraining: as classifier data it lowered TweetEval validation macro-recall (see MODEL_CARD.md).
TRAIN_SOURCES = "semeval2017,tweet-sentiment-extraction"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load(work):
    rd = lambda name, dt: np.fromfile(os.path.join(work, name), dtype=dt)
    meta = json.load(open(os.path.join(work, "meta.json")))
    data = dict(
        tok_off=rd("tokens.offsets.i32", np.int32).astype(np.int64), tok_ids=rd("tokens.ids.i32", np.int32),
        ng_off=rd("ngrams.offsets.i32", np.int32).astype(np.int64), ng_ids=rd("ngrams.ids.i32", np.int32),
        ng_tf=rd("ngrams.tf.f32", np.float32), idf=rd("idf.f32", np.float32),
        labels=rd("labels.i8", np.int8).astype(np.int64), splits=rd("splits.i8", np.int8),
    )
    return meta, data


def macro_recall(pred, gold, n=3):
    recalls = [float(((pred == c) & (gold == c)).sum()) / max(1, int((gold == c).sum())) for c in range(n)]
    return sum(recalls) / n


def metrics(pred, gold):
    f1 = []
    for c in range(3):
        tp = float(((pred == c) & (gold == c)).sum()); fp = float(((pred == c) & (gold != c)).sum()); fn = float(((pred != c) & (gold == c)).sum())
        f1.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return {"macro_recall": round(macro_recall(pred, gold), 4), "accuracy": round(float((pred == gold).mean()), 4),
            "f1": {LABELS[c]: round(f1[c], 4) for c in range(3)}}


# ---------------------------------------------------------------- batching

def pad_rows(off, vals, rows, pad, dtype, max_len=None):
    starts = off[rows]
    lens = np.minimum(off[rows + 1] - starts, max_len or 1 << 30)
    width = max(1, int(lens.max()) if len(lens) else 1)
    out = np.full((len(rows), width), pad, dtype=dtype)
    cols = np.arange(width)
    valid = cols[None, :] < lens[:, None]
    out[valid] = vals[(starts[:, None] + cols[None, :])[valid]]
    return out


def batch(data, rows, max_len):
    ids = pad_rows(data["tok_off"], data["tok_ids"], rows, 1, np.int64, max_len)  # 1 = <pad>
    ng_rows = rows  # labelled rows come first, so their indices match the n-gram CSR
    return dict(
        input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy((ids != 1).astype(np.int64)),
        ngram_ids=torch.from_numpy(pad_rows(data["ng_off"], data["ng_ids"], ng_rows, 0, np.int64)),
        ngram_weights=torch.from_numpy(pad_rows(data["ng_off"], data["ng_tf"], ng_rows, 0.0, np.float32)),
    )


def length_buckets(data, rows, batch_size, rng):
    """Batches of similar length (less padding), in random order."""
    lens = data["tok_off"][rows + 1] - data["tok_off"][rows]
    order = rows[np.argsort(lens + rng.random(len(rows)), kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


# ---------------------------------------------------------------- model

class Block(nn.Module):
    """Pre-norm encoder block written with plain ops so it exports to ONNX as-is."""

    def __init__(self, h, heads, ffn, dropout):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(h), nn.LayerNorm(h)
        self.qkv, self.out = nn.Linear(h, 3 * h), nn.Linear(h, h)
        self.ff1, self.ff2 = nn.Linear(h, ffn), nn.Linear(ffn, h)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, bias):
        b, t, h = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(h // self.heads) + bias, dim=-1)
        y = (self.drop(att) @ v).transpose(1, 2).reshape(b, t, h)
        x = x + self.drop(self.out(y))
        return x + self.drop(self.ff2(F.gelu(self.ff1(self.ln2(x)))))


class Hybrid(nn.Module):
    def __init__(self, vocab, buckets, idf, emb=64, hidden=128, layers=2, heads=4, ffn=256, max_pos=130, dropout=0.1):
        super().__init__()
        self.tok = nn.Embedding(vocab, emb, padding_idx=1)
        self.proj = nn.Linear(emb, hidden)  # factorized embedding: the vocabulary table stays small
        self.pos = nn.Embedding(max_pos, hidden)
        self.blocks = nn.ModuleList(Block(hidden, heads, ffn, dropout) for _ in range(layers))
        self.ln = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, 3)
        self.mlm = nn.Linear(hidden, emb)  # MLM output tied to the token table through this projection
        self.drop = nn.Dropout(dropout)
        self.lin_w = nn.Embedding(buckets, 3)
        nn.init.zeros_(self.lin_w.weight)
        self.lin_b = nn.Parameter(torch.zeros(3))
        self.register_buffer("idf", torch.from_numpy(idf))

    def encode(self, input_ids, attention_mask):
        t = input_ids.shape[1]
        x = self.proj(self.tok(input_ids)) + self.pos(torch.arange(t).unsqueeze(0))
        x = self.drop(x)
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -1e4
        for blk in self.blocks:
            x = blk(x, bias)
        return self.ln(x)

    def transformer_logits(self, input_ids, attention_mask):
        x = self.encode(input_ids, attention_mask)
        m = attention_mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(self.drop(pooled))

    def linear_logits(self, ngram_ids, ngram_weights):
        w = ngram_weights * self.idf[ngram_ids]
        w = w / (w.norm(dim=1, keepdim=True) + 1e-12)
        return (self.lin_w(ngram_ids) * w.unsqueeze(-1)).sum(1) + self.lin_b

    def forward(self, input_ids, attention_mask, ngram_ids, ngram_weights):
        return self.linear_logits(ngram_ids, ngram_weights) + self.transformer_logits(input_ids, attention_mask)


# ---------------------------------------------------------------- training steps

def predict(model, data, rows, fn, max_len, bs=512):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(rows), bs):
            out.append(fn(batch(data, rows[i:i + bs], max_len)).argmax(-1).numpy())
    model.train()
    return np.concatenate(out)


def class_weights(labels):
    """Inverse class frequency: the target metric is macro-averaged recall, so every class counts the same."""
    counts = np.bincount(labels, minlength=3).astype(np.float32)
    return torch.from_numpy(counts.sum() / (3 * counts))


def ngram_matrix(data, rows, buckets):
    """The linear branch's input as a sparse matrix: sublinear tf x idf, L2-normalized per row, exactly as
    the exported graph computes it (each text's buckets are unique, so a row holds no duplicates)."""
    from scipy.sparse import csr_matrix
    off = data["ng_off"]
    starts, ends = off[rows], off[rows + 1]
    idx = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
    ids = data["ng_ids"][idx]
    vals = data["ng_tf"][idx] * data["idf"][ids]
    row_of = np.repeat(np.arange(len(rows)), ends - starts)
    x = csr_matrix((vals.astype(np.float64), (row_of, ids)), shape=(len(rows), buckets))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel()) + 1e-12
    return csr_matrix(x.multiply(1.0 / norms[:, None]))


def train_linear(model, data, train_rows, dev_rows, args):
    """Fits the linear branch to convergence as a class-balanced multinomial logistic regression (L-BFGS)
    on the graph's own hashed features, then copies the weights into the n-gram table."""
    from sklearn.linear_model import LogisticRegression
    buckets = model.lin_w.num_embeddings
    clf = LogisticRegression(C=args.linear_c, max_iter=args.linear_iter, class_weight="balanced")
    clf.fit(ngram_matrix(data, train_rows, buckets), data["labels"][train_rows])
    model.lin_w.weight.data.copy_(torch.from_numpy(clf.coef_.T.astype(np.float32)))
    model.lin_b.data.copy_(torch.from_numpy(clf.intercept_.astype(np.float32)))
    fn = lambda b: model.linear_logits(b["ngram_ids"], b["ngram_weights"])
    mr = macro_recall(predict(model, data, dev_rows, fn, args.max_len), data["labels"][dev_rows])
    log(f"linear branch (logistic regression, C={args.linear_c}): dev macro-recall {mr:.4f}")
    return mr


def pretrain_mlm(model, data, rows, args, rng):
    params = [p for n, p in model.named_parameters() if not n.startswith("lin_") and not n.startswith("head")]
    opt = torch.optim.AdamW(params, lr=args.mlm_lr, weight_decay=0.01)
    batches = [b for _ in range(args.mlm_epochs) for b in length_buckets(data, rows, args.batch_size, rng)]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.mlm_lr, total_steps=len(batches), pct_start=0.06)
    vocab = model.tok.num_embeddings
    t0 = time.time()
    for step, rows_b in enumerate(batches):
        ids = torch.from_numpy(pad_rows(data["tok_off"], data["tok_ids"], rows_b, 1, np.int64, args.max_len))
        mask = ids != 1
        special = (ids == 0) | (ids == 2) | ~mask
        chosen = (torch.rand(ids.shape) < 0.15) & ~special
        if chosen.sum() == 0:
            continue
        inp = ids.clone()
        r = torch.rand(ids.shape)
        inp[chosen & (r < 0.8)] = 4  # <mask>
        rand_tok = chosen & (r >= 0.8) & (r < 0.9)
        inp[rand_tok] = torch.randint(5, vocab, (int(rand_tok.sum()),))
        h = model.encode(inp, mask.long())[chosen]
        logits = model.mlm(h) @ model.tok.weight.T
        loss = F.cross_entropy(logits, ids[chosen])
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step(); sched.step()
        if step % 200 == 0:
            log(f"mlm step {step}/{len(batches)} loss {loss.item():.3f} ({time.time() - t0:.0f}s)")


def finetune(model, data, train_rows, dev_rows, args, rng):
    """Hybrid loss plus an auxiliary loss on the transformer alone, so each branch is also a classifier."""
    for p in [model.lin_w.weight, model.lin_b]:
        p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.ft_lr, weight_decay=0.01)
    batches = [b for _ in range(args.ft_epochs) for b in length_buckets(data, train_rows, args.batch_size, rng)]
    per_epoch = len(batches) // max(1, args.ft_epochs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.ft_lr, total_steps=len(batches), pct_start=0.1)
    best = (-1.0, None)
    t0 = time.time()
    for step, rows in enumerate(batches):
        b = batch(data, rows, args.max_len)
        y = torch.from_numpy(data["labels"][rows])
        with torch.no_grad():
            lin = model.linear_logits(b["ngram_ids"], b["ngram_weights"])
        tr = model.transformer_logits(b["input_ids"], b["attention_mask"])
        cw = args.class_weights
        loss = F.cross_entropy(lin + tr, y, weight=cw, label_smoothing=0.1) + 0.5 * F.cross_entropy(tr, y, weight=cw, label_smoothing=0.1)
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step(); sched.step()
        if step % 200 == 0:
            log(f"finetune step {step}/{len(batches)} loss {loss.item():.3f} ({time.time() - t0:.0f}s)")
        if (step + 1) % per_epoch == 0 or step + 1 == len(batches):
            mr = macro_recall(predict(model, data, dev_rows, lambda bb: model(**bb), args.max_len), data["labels"][dev_rows])
            log(f"finetune step {step + 1}: hybrid dev macro-recall {mr:.4f}")
            if mr > best[0]:
                best = (mr, {k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[1])
    return best[0]


class Export(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, ngram_ids, ngram_weights):
        return self.m(input_ids, attention_mask, ngram_ids, ngram_weights)


def export(model, out, meta, args):
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    model.eval()
    b = dict(input_ids=torch.tensor([[0, 100, 200, 2], [0, 300, 2, 1]]), attention_mask=torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
             ngram_ids=torch.tensor([[5, 6, 7], [8, 9, 0]]), ngram_weights=torch.tensor([[1.0, 1.0, 1.7], [1.0, 1.0, 0.0]]))
    torch.onnx.export(Export(model), tuple(b.values()), os.path.join(out, "onnx", "model.onnx"), input_names=list(b.keys()),
                      output_names=["logits"], opset_version=14, do_constant_folding=True,
                      dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                    "ngram_ids": {0: "batch", 1: "features"}, "ngram_weights": {0: "batch", 1: "features"},
                                    "logits": {0: "batch"}})
    config = {
        "architectures": ["ChatPulseHybridForSequenceClassification"], "model_type": "chatpulse-hybrid",
        "_name_or_path": args.name, "id2label": {str(i): l for i, l in enumerate(LABELS)},
        "label2id": {l: i for i, l in enumerate(LABELS)}, "vocab_size": meta["vocabSize"], "hidden_size": args.hidden,
        "embedding_size": args.emb, "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
        "intermediate_size": args.ffn, "max_position_embeddings": args.max_len + 2, "ngram_buckets": meta["buckets"],
        "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "trained_from_scratch": True,
    }
    json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="models/train/.work")
    ap.add_argument("--out", default="models/chatpulse-mini")
    ap.add_argument("--name", default="chatpulse-mini")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--emb", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=256)  # the int8 matmuls are most of inference time; 256 keeps the engine above 3,000 msgs/s on 2 cores
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--linear-c", type=float, default=1.0)
    ap.add_argument("--linear-iter", type=int, default=400)
    ap.add_argument("--train-sources", default=TRAIN_SOURCES,
                    help="labelled sets the classifier trains on (every text still serves masked-language pretraining)")
    ap.add_argument("--mlm-epochs", type=int, default=1)
    ap.add_argument("--mlm-lr", type=float, default=1e-3)
    ap.add_argument("--ft-epochs", type=int, default=3)
    ap.add_argument("--ft-lr", type=float, default=5e-4)
    args = ap.parse_args()

    random.seed(args.seed); np.random.seed(args.seed); torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    meta, data = load(args.work)
    splits = data["splits"]
    train_rows, dev_rows, twitch_rows = (np.nonzero(splits == s)[0] for s in (0, 1, 2))
    pretrain_rows = np.nonzero((splits == 0) | (splits == 3))[0]
    sources = np.fromfile(os.path.join(args.work, "sources.i8"), dtype=np.int8)
    wanted = [meta["sources"].index(name) for name in args.train_sources.split(",")]
    train_rows = train_rows[np.isin(sources[train_rows], wanted)]
    log(f"train {len(train_rows)}, dev {len(dev_rows)}, twitch {len(twitch_rows)}, pretraining texts {len(pretrain_rows)}")
    args.class_weights = class_weights(data["labels"][train_rows])
    report = {"args": {k: v for k, v in vars(args).items() if k != "class_weights"}, "data": meta}

    model = Hybrid(meta["vocabSize"], meta["buckets"], data["idf"], args.emb, args.hidden, args.layers, args.heads, args.ffn, args.max_len + 2)
    train_linear(model, data, train_rows, dev_rows, args)
    lin_fn = lambda b: model.linear_logits(b["ngram_ids"], b["ngram_weights"])
    if args.mlm_epochs > 0:
        pretrain_mlm(model, data, pretrain_rows, args, rng)
    if args.ft_epochs > 0:
        finetune(model, data, train_rows, dev_rows, args, rng)

    tr_fn = lambda b: model.transformer_logits(b["input_ids"], b["attention_mask"])
    hy_fn = lambda b: model(**b)
    for name, fn in [("linear_branch", lin_fn), ("transformer_branch", tr_fn), ("hybrid", hy_fn)]:
        report[name] = {split: metrics(predict(model, data, rows, fn, args.max_len), data["labels"][rows])
                        for split, rows in [("dev", dev_rows), ("twitch", twitch_rows)]}
        log(f"{name}: {report[name]}")
    report["parameters"] = {"transformer": sum(p.numel() for n, p in model.named_parameters() if not n.startswith("lin_")),
                            "linear": model.lin_w.weight.numel() + 3}
    export(model, args.out, meta, args)
    json.dump(report, open(os.path.join(args.work, "train_report.json"), "w"), indent=2)
    log(f"exported {args.out}; report in {args.work}/train_report.json")


if __name__ == "__main__":
    main()
