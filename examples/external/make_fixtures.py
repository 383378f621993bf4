"""Write the external-format fixtures (issue #18 §4): a few dozen instances per format, made by our
own code from the published format descriptions (no third-party code), seeded, so the files are
reproducible: ``python examples/external/make_fixtures.py`` rewrites them in this folder.

* ``zoology_mqar_v8192.npz``: Zoology MQAR (Arora et al. 2024, the ``multiquery_ar`` description):
  vocabulary 8192, keys from ``1 .. 4095`` and values from ``4096 .. 8191`` drawn without
  replacement, 8 pairs, length 48, each key queried once at an even offset ``2 g`` of the query
  region with gaps ``g`` drawn without replacement with probability ``~ a g^(a-1)`` (``a = 0.01``),
  labels -100 but at the queries, every 0 replaced by a uniform random id (``random_non_queries``).
* ``zoology_mqar_v80.jsonl``: the same with a vocabulary of 80 (keys 1..39), so that random fillers
  repeat keys, values and whole pairs (what the constructions must handle or fail on, as stated).
* ``zoology_mqar_zeros.json``: vocabulary 8192, fillers left 0 (``random_non_queries=False``).
* ``jelassi_copy.txt``: ``$s|s.`` lines (Jelassi et al. 2024), ``s`` of 5..24 letters over 26
  letters; the last third over 4 letters, where 3-grams repeat.
* ``ar_text.txt``: ``k1v1..kNvN q a`` lines (letters for keys, distinct; digits for values), N = 2..10.
* ``jelassi_suffix.txt`` (``$s|ga.``) and ``jelassi_prefix.txt`` (``$g|s|a.``): the n-gram lookup strings of
  Jelassi et al. 2024 with ``n = 3`` as in their data: 20 lines with ``s`` of 8 letters over 26 letters
  and answers of 2, then 16 lines with ``s`` of 12 letters over 4 letters and answers of 4, where 3-grams
  repeat and some continuations are ambiguous; ``g`` is the 3-gram at a uniform position, the answer what
  follows its first occurrence.
"""

from __future__ import annotations

import json
import pathlib
import string

import numpy as np

HERE = pathlib.Path(__file__).parent


def zoology_rows(rng: np.random.Generator, rows: int, vocab: int, pairs: int, length: int, random_fillers: bool,
                 power_a: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    half = vocab // 2
    context = 2 * pairs
    space = (length - context) // 2
    p = power_a * np.arange(1, space + 1) ** (power_a - 1)
    p /= p.sum()
    inputs = np.zeros((rows, length), dtype=np.int64)
    labels = np.full((rows, length), -100, dtype=np.int64)
    for r in range(rows):
        keys = rng.choice(np.arange(1, half), size=pairs, replace=False)
        values = rng.choice(np.arange(half, vocab), size=pairs, replace=False)
        inputs[r, 0:context:2], inputs[r, 1:context:2] = keys, values
        gaps = rng.choice(space, size=pairs, replace=False, p=p)
        inputs[r, context + 2 * gaps] = keys
        labels[r, context + 2 * gaps] = values
        if random_fillers:
            zero = inputs[r] == 0
            inputs[r, zero] = rng.integers(0, vocab, size=int(zero.sum()))
    return inputs, labels


def copy_lines(rng: np.random.Generator, count: int, letters: str) -> list[str]:
    out = []
    for _ in range(count):
        s = "".join(rng.choice(list(letters), size=int(rng.integers(5, 25))))
        out.append(f"${s}|{s}.")
    return out


def ar_lines(rng: np.random.Generator, count: int) -> list[str]:
    out = []
    for _ in range(count):
        n = int(rng.integers(2, 11))
        keys = rng.choice(list(string.ascii_lowercase), size=n, replace=False)
        values = rng.choice(list(string.digits), size=n)
        q = int(rng.integers(n))
        out.append("".join(k + v for k, v in zip(keys, values)) + keys[q] + values[q])
    return out


def lookup_lines(rng: np.random.Generator, count: int, letters: str, length: int, n: int, answer: int, key: str) -> list[str]:
    out = []
    for _ in range(count):
        s = "".join(rng.choice(list(letters), size=length))
        start = int(rng.integers(0, length - n - answer + 1))
        g = s[start : start + n]
        first = s.find(g)
        a = s[first + n : first + n + answer]
        out.append(f"${s}|{g}{a}." if key == "suffix" else f"${g}|{s}|{a}.")
    return out


def main() -> None:
    rng = np.random.default_rng(18)
    inputs, labels = zoology_rows(rng, 32, 8192, 8, 48, True)
    np.savez(HERE / "zoology_mqar_v8192.npz", inputs=inputs, labels=labels)
    inputs, labels = zoology_rows(rng, 48, 80, 8, 48, True)
    with open(HERE / "zoology_mqar_v80.jsonl", "w") as f:
        for i, l in zip(inputs.tolist(), labels.tolist()):
            f.write(json.dumps({"inputs": i, "labels": l}) + "\n")
    inputs, labels = zoology_rows(rng, 16, 8192, 4, 32, False)
    (HERE / "zoology_mqar_zeros.json").write_text(json.dumps({"inputs": inputs.tolist(), "labels": labels.tolist()}))
    lines = copy_lines(rng, 24, string.ascii_lowercase) + copy_lines(rng, 12, "abcd")
    (HERE / "jelassi_copy.txt").write_text("\n".join(lines) + "\n")
    (HERE / "ar_text.txt").write_text("\n".join(ar_lines(rng, 36)) + "\n")
    rng = np.random.default_rng(1818)  # its own stream: the files above stay as they were
    for key in ("suffix", "prefix"):
        lines = (lookup_lines(rng, 20, string.ascii_lowercase, 8, 3, 2, key)
                 + lookup_lines(rng, 16, "abcd", 12, 3, 4, key))
        (HERE / f"jelassi_{key}.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
