#!/usr/bin/env python3
"""Reference values for evalgate's statistics (src/stats), written to tests/fixtures/stats/.

Run from the repository root: python3 scripts/stats-reference.py   (needs numpy and scipy)

Independent of evalgate's code; the fixtures it writes are committed, and `cargo test` compares
evalgate against them without running Python:

- exhaustive.json: the exact bootstrap distribution of tiny datasets, every ordered draw of
  n images enumerated (n^n replicates); compared to 1e-12.
- chacha.json: the same statistics on replicates drawn exactly as evalgate draws them (ChaCha8
  keyed by the seed, stream = replicate index, Lemire's bounded integers), reimplemented here
  from the ChaCha specification; compared to 1e-12, which also pins evalgate's random stream.
- scipy.json: scipy.stats.bootstrap(paired=True, method="percentile") with 100,000 resamples
  on a dataset where every replicate is defined; compared within Monte-Carlo error.
- corrections.json: Holm and Benjamini-Hochberg adjusted p-values, written plainly and checked
  here against scipy.stats.false_discovery_control; compared exactly (1e-15).
- normal.json: scipy.special.ndtr / ndtri, and minimum detectable drops from them.

Conventions (the same as evalgate's, see docs/statistics.md): a ratio with a zero denominator is
undefined; a replicate where the quantity is undefined for either model is left out; a macro mean
averages the classes defined for both models; SE has the n - 1 divisor; p = ndtr(delta / SE);
p_percentile = (#{delta* >= 0} + 1) / (B + 1).
"""

import itertools
import json
import pathlib

import numpy as np
import scipy
import scipy.special
import scipy.stats

OUT = pathlib.Path("tests/fixtures/stats")
METRICS = ["precision", "recall", "f1"]
MASK64 = (1 << 64) - 1


# --- ChaCha8 (D. J. Bernstein, "ChaCha, a variant of Salsa20", 2008; RFC 8439 section 2) ---


def rotl(x, n):
    return ((x << np.uint32(n)) | (x >> np.uint32(32 - n))).astype(np.uint32)


def chacha_blocks(state, rounds):
    """Keystream words of many blocks at once; `state` is (16, blocks) uint32."""
    x = state.copy()

    def qr(a, b, c, d):
        x[a] += x[b]; x[d] = rotl(x[d] ^ x[a], 16)
        x[c] += x[d]; x[b] = rotl(x[b] ^ x[c], 12)
        x[a] += x[b]; x[d] = rotl(x[d] ^ x[a], 8)
        x[c] += x[d]; x[b] = rotl(x[b] ^ x[c], 7)

    with np.errstate(over="ignore"):
        for _ in range(rounds // 2):
            qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
            qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
        return (x + state).astype(np.uint32)


def check_chacha():
    # RFC 8439 section 2.3.2: ChaCha20 block function test vector.
    key = np.frombuffer(bytes(range(32)), dtype="<u4")
    nonce = np.frombuffer(bytes.fromhex("000000090000004a00000000"), dtype="<u4")
    state = np.concatenate([[0x61707865, 0x3320646E, 0x79622D32, 0x6B206574], key, [1], nonce])
    out = chacha_blocks(state.astype(np.uint32).reshape(16, 1), 20)[:, 0]
    expected = bytes.fromhex(
        "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
        "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"
    )
    assert out.astype("<u4").tobytes() == expected, "ChaCha block function"


class ChaCha8Stream:
    """64-bit outputs of ChaCha8 with a 64-bit block counter and a 64-bit stream id, as
    rand_chacha lays them out: words 12-13 the counter, 14-15 the stream; a u64 is two
    consecutive keystream words, low word first."""

    def __init__(self, seed, stream):
        key = np.frombuffer(seed.to_bytes(8, "little") + bytes(24), dtype="<u4")
        self.head = np.concatenate([[0x61707865, 0x3320646E, 0x79622D32, 0x6B206574], key])
        self.stream = stream
        self.words = []
        self.counter = 0

    def next_u64(self):
        if len(self.words) < 2:
            blocks = 8
            counters = np.arange(self.counter, self.counter + blocks, dtype=np.uint64)
            state = np.empty((16, blocks), dtype=np.uint32)
            state[:12] = self.head[:, None]
            state[12] = (counters & 0xFFFFFFFF).astype(np.uint32)
            state[13] = (counters >> np.uint64(32)).astype(np.uint32)
            state[14] = self.stream & 0xFFFFFFFF
            state[15] = self.stream >> 32
            self.words.extend(int(w) for w in chacha_blocks(state, 8).T.reshape(-1))
            self.counter += blocks
        lo, hi = self.words[0], self.words[1]
        del self.words[:2]
        return lo | (hi << 32)


def below(rng, n):
    """Lemire's unbiased bounded integer in [0, n)."""
    m = rng.next_u64() * n
    if (m & MASK64) < n:
        threshold = ((1 << 64) - n) % n
        while (m & MASK64) < threshold:
            m = rng.next_u64() * n
    return m >> 64


def chacha_weights(seed, images, resamples):
    w = np.zeros((resamples, images), dtype=np.int64)
    for r in range(resamples):
        rng = ChaCha8Stream(seed, r)
        for _ in range(images):
            w[r, below(rng, images)] += 1
    return w


def exhaustive_weights(images):
    rows = []
    for draw in itertools.product(range(images), repeat=images):
        rows.append(np.bincount(draw, minlength=images))
    return np.array(rows, dtype=np.int64)


# --- statistics --------------------------------------------------------------------------


def metric(name, tp, fp, fn):
    num, den = {
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
        "f1": (2 * tp, 2 * tp + fp + fn),
    }[name]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def quantities(classes):
    qs = [{"split": m} for m in METRICS]
    qs += [{"class": c, "metric": m} for c in range(classes) for m in METRICS]
    qs += [{"macro": m} for m in METRICS]
    return qs


def values(q, sums_b, sums_c, split_b, split_c):
    """Values of quantity q for both models; sums_* are (..., classes, 3), split_* (..., 3)."""
    if "split" in q:
        m = q["split"]
        return (metric(m, *np.moveaxis(split_b, -1, 0)), metric(m, *np.moveaxis(split_c, -1, 0)))
    if "class" in q:
        m, c = q["metric"], q["class"]
        return (metric(m, *np.moveaxis(sums_b[..., c, :], -1, 0)),
                metric(m, *np.moveaxis(sums_c[..., c, :], -1, 0)))
    m = q["macro"]
    vb = metric(m, *np.moveaxis(sums_b, -1, 0))
    vc = metric(m, *np.moveaxis(sums_c, -1, 0))
    both = ~np.isnan(vb) & ~np.isnan(vc)
    n = both.sum(axis=-1)
    with np.errstate(invalid="ignore"):
        mb = np.where(both, vb, 0).sum(axis=-1) / n
        mc = np.where(both, vc, 0).sum(axis=-1) / n
    return (np.where(n > 0, mb, np.nan), np.where(n > 0, mc, np.nan))


def summarise(b, c, deltas, images):
    if images == 0:
        return {"untestable": "no_images"}
    if np.isnan(b) or np.isnan(c):
        return {"untestable": "undefined", "baseline": bool(np.isnan(b)), "candidate": bool(np.isnan(c))}
    d = deltas[~np.isnan(deltas)]
    if len(d) < 2:
        return {"untestable": "too_few_replicates", "usable": int(len(d))}
    delta = float(c - b)
    se = 0.0 if np.all(d == d[0]) else float(np.std(d, ddof=1))
    if se > 0:
        p = float(scipy.special.ndtr(delta / se))
    elif delta >= 0:
        p = 1.0
    else:
        return {"untestable": "no_spread"}
    lo, hi = np.percentile(d, [2.5, 97.5])
    return {
        "baseline": float(b), "candidate": float(c), "delta": delta,
        "ci_low": float(lo), "ci_high": float(hi), "std_error": se, "p_value": p,
        "p_percentile": float((np.sum(d >= 0) + 1) / (len(d) + 1)),
        "resamples": int(len(d)),
    }


def bootstrap(data, weights):
    b, c = np.array(data["baseline"]), np.array(data["candidate"])  # (images, classes, 3)
    sb, sc = np.array(data["baseline_split"]), np.array(data["candidate_split"])  # (images, 3)
    images, classes = b.shape[0], b.shape[1]
    obs = (b.sum(0), c.sum(0), sb.sum(0), sc.sum(0))
    rep = (np.einsum("ri,ijk->rjk", weights, b), np.einsum("ri,ijk->rjk", weights, c),
           weights @ sb, weights @ sc)
    results = []
    for q in quantities(classes):
        ob, oc = values(q, *obs)
        rb, rc = values(q, *rep)
        results.append({"quantity": q, "expected": summarise(ob, oc, rc - rb, images)})
    return results


def dataset(rng, images, classes, presence, drop, given_split):
    """Per-image counts: objects of a class appear with probability presence[c]; the candidate
    finds each object the baseline found except with probability drop[c]."""
    gt = rng.poisson(2.0, (images, classes)) * (rng.random((images, classes)) < presence)
    tp_b = rng.binomial(gt, 0.8)
    tp_c = tp_b - rng.binomial(tp_b, drop)
    tp_c = np.minimum(gt, tp_c + rng.binomial(gt - tp_c, 0.05))  # some churn both ways
    fp_b = rng.poisson(0.3, (images, classes)) * (rng.random((images, classes)) < presence)
    fp_c = fp_b + rng.poisson(0.05, (images, classes)) * (rng.random((images, classes)) < presence)
    base = np.stack([tp_b, fp_b, gt - tp_b], -1)
    cand = np.stack([tp_c, fp_c, gt - tp_c], -1)
    if given_split:
        # A source that counts a misclassification once: fewer split-level FPs than pooled.
        split_b = base.sum(1) - np.stack([0 * tp_b[:, 0], fp_b.sum(1) // 3, 0 * tp_b[:, 0]], -1)
        split_c = cand.sum(1) - np.stack([0 * tp_c[:, 0], fp_c.sum(1) // 3, 0 * tp_c[:, 0]], -1)
    else:
        split_b, split_c = base.sum(1), cand.sum(1)
    return {
        "images": images, "classes": classes, "given_split": given_split,
        "baseline": base.tolist(), "candidate": cand.tolist(),
        "baseline_split": split_b.tolist(), "candidate_split": split_c.tolist(),
    }


def canonical(data):
    """The images reordered as evalgate orders them: by their non-zero cells, compared as
    lists of (column, baseline TP, FP, FN, candidate TP, FP, FN), the split level being column
    `classes`. Results do not depend on the order, but replicate weights are applied by
    position, so a fixture that pins the weights must list the images in this order."""
    def key(i):
        rows = data["baseline"][i] + [data["baseline_split"][i]]
        rows_c = data["candidate"][i] + [data["candidate_split"][i]]
        return [(col, *b, *c) for col, (b, c) in enumerate(zip(rows, rows_c)) if any(b) or any(c)]
    order = sorted(range(data["images"]), key=key)
    out = dict(data)
    for k in ("baseline", "candidate", "baseline_split", "candidate_split"):
        out[k] = [data[k][i] for i in order]
    return out


def write(name, value):
    (OUT / name).write_text(json.dumps(value, indent=1) + "\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    check_chacha()
    rng = np.random.default_rng(20261201)
    provenance = f"scripts/stats-reference.py (numpy {np.__version__}, scipy {scipy.__version__})"

    # Tiny datasets, written by hand so each edge case is deliberate.
    tiny = {
        # Class 1 appears on image 2 only (its recall rests on one image: no spread), class 2
        # never: undefined everywhere.
        "images": 3, "classes": 3, "given_split": False,
        "baseline": [[[3, 1, 1], [0, 0, 0], [0, 0, 0]],
                     [[2, 0, 2], [0, 0, 0], [0, 0, 0]],
                     [[4, 1, 0], [2, 1, 0], [0, 0, 0]]],
        "candidate": [[[3, 0, 1], [0, 0, 0], [0, 0, 0]],
                      [[1, 1, 3], [0, 0, 0], [0, 0, 0]],
                      [[3, 1, 1], [1, 1, 1], [0, 0, 0]]],
    }
    tiny["baseline_split"] = np.array(tiny["baseline"]).sum(1).tolist()
    tiny["candidate_split"] = np.array(tiny["candidate"]).sum(1).tolist()
    small = dataset(rng, 5, 3, [0.9, 0.6, 0.3], [0.1, 0.3, 0.0], True)
    exhaustive = []
    for data in (tiny, small):
        exhaustive.append({"data": data, "results": bootstrap(data, exhaustive_weights(data["images"]))})
    write("exhaustive.json", {"source": provenance, "cases": exhaustive})

    # Exactly evalgate's replicates.
    seed, resamples = 7, 3000
    data = canonical(dataset(rng, 25, 4, [0.9, 0.5, 0.1, 0.0], [0.08, 0.2, 0.3, 0.0], False))
    weights = chacha_weights(seed, data["images"], resamples)
    write("chacha.json", {
        "source": provenance, "seed": seed, "resamples": resamples, "data": data,
        "first_weights": weights[:3].tolist(), "results": bootstrap(data, weights),
    })

    # scipy's paired bootstrap, on data where every replicate is defined.
    data = dataset(rng, 80, 3, [0.9, 0.7, 0.5], [0.06, 0.0, 0.15], False)
    b, c = np.array(data["baseline"]), np.array(data["candidate"])
    checks = []
    for q in [{"split": m} for m in METRICS] + [{"class": k, "metric": m} for k in range(3) for m in METRICS] + [{"macro": "f1"}]:
        def statistic(bb, cc, axis=-1, q=q):
            # Samples are (classes * 3, images), resampled along the image axis: sums come out
            # as (classes * 3, resamples...), turned into (resamples..., classes, 3).
            def pooled(x):
                s = np.moveaxis(x.sum(axis=axis), 0, -1)
                return s.reshape(s.shape[:-1] + (3, 3))
            sb, sc = pooled(bb), pooled(cc)
            vb, vc = values(q, sb, sc, sb.sum(-2), sc.sum(-2))
            return vc - vb

        bb = b.reshape(80, 9).T.astype(float)
        cc = c.reshape(80, 9).T.astype(float)
        res = scipy.stats.bootstrap(
            (bb, cc), statistic, paired=True, vectorized=True, axis=-1, n_resamples=100_000,
            confidence_level=0.95, method="percentile", batch=5_000, rng=np.random.default_rng(42),
        )
        dist = res.bootstrap_distribution
        assert not np.isnan(dist).any(), "every replicate defined"
        ob, oc = values(q, b.sum(0), c.sum(0), b.sum((0, 1)), c.sum((0, 1)))
        delta = float(oc - ob)
        se = float(res.standard_error)
        checks.append({
            "quantity": q, "delta": delta,
            "ci_low": float(res.confidence_interval.low), "ci_high": float(res.confidence_interval.high),
            "std_error": se, "p_value": float(scipy.special.ndtr(delta / se)),
            "p_percentile": float((np.sum(dist >= 0) + 1) / (len(dist) + 1)),
            "resamples": len(dist),
        })
    write("scipy.json", {"source": provenance, "data": data, "results": checks})

    # Holm and Benjamini-Hochberg, plainly.
    def holm(p):
        p = np.asarray(p, float)
        m = len(p)
        order = np.argsort(p, kind="stable")
        adj = np.empty(m)
        running = 0.0
        for k, i in enumerate(order):
            running = max(running, min(1.0, (m - k) * p[i]))
            adj[i] = running
        return adj

    def bh(p):
        p = np.asarray(p, float)
        m = len(p)
        order = np.argsort(p, kind="stable")
        adj = np.empty(m)
        running = 1.0
        for k in range(m - 1, -1, -1):
            i = order[k]
            running = min(running, m * p[i] / (k + 1))
            adj[i] = running
        return adj

    vectors = [
        [0.01, 0.04, 0.03, 0.005],
        [0.5],
        [0.0, 1.0, 0.02, 0.02, 0.02, 0.9, 1e-12],
        rng.random(30).tolist(),
        (rng.random(300) ** 6).tolist(),
    ]
    corrections = []
    for p in vectors:
        assert np.allclose(bh(p), scipy.stats.false_discovery_control(p, method="bh"), rtol=1e-14, atol=0)
        corrections.append({"p": p, "holm": holm(p).tolist(), "bh": bh(p).tolist()})
    write("corrections.json", {"source": provenance, "cases": corrections})

    xs = [-37.0, -20.0, -8.5, -5.0, -3.2, -1.96, -1.0, -0.1, 0.0, 0.5, 1.645, 3.0, 6.0, 9.0]
    ps = [1e-300, 1e-20, 1e-9, 1.7e-4, 0.01, 0.02425, 0.025, 0.3, 0.5, 0.8, 0.97575, 0.975, 0.999, 1 - 1e-9]
    drops = []
    for se, alpha, power, rho in [(0.02, 0.05, 0.8, 0.0), (0.005, 0.05 / 300, 0.8, 0.0), (0.1, 0.01, 0.9, 0.5)]:
        z = scipy.special.ndtri(1 - alpha) + scipy.special.ndtri(power)
        drops.append({"std_error": se, "significance": alpha, "power": power, "correlation": rho,
                      "drop": float(z * se * np.sqrt(2 * (1 - rho)))})
    write("normal.json", {
        "source": provenance,
        "cdf": [[x, float(scipy.special.ndtr(x))] for x in xs],
        "quantile": [[p, float(scipy.special.ndtri(p))] for p in ps],
        "min_detectable_drop": drops,
    })


if __name__ == "__main__":
    main()
