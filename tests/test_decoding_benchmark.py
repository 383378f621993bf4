"""``benchmarks/decoding_throughput.py`` on a tiny length (seconds, not a benchmark run): every row decodes the
copies exactly with both decoders, the reference twin agrees, and the default decoder is the one
``greedy_decode`` takes for that batch."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import torch

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "decoding_throughput.py"


def test_the_decoding_benchmark_prints_exact_rows_for_both_decoders(capsys):
    spec = importlib.util.spec_from_file_location("decoding_throughput", PATH)
    module = importlib.util.module_from_spec(spec)
    threads = torch.get_num_threads()
    try:
        spec.loader.exec_module(module)
        module.main(["--lengths", "32", "--batches", "1", "20", "--rerun-max-length", "32", "--repeats", "1"])
    finally:
        torch.set_num_threads(threads)
        sys.modules.pop("verification_throughput", None)
    lines = capsys.readouterr().out.splitlines()
    row = re.compile(r"^(\S+) .* (\d+) +[\d.]+ +(draft|step) +[\d.]+ +[\d.]+x +- +(yes|NO) ")
    rows = [row.match(line).groups() for line in lines if line.startswith(("fixed-length-shift", "ngram-lookup"))]
    assert rows == [("fixed-length-shift", "1", "draft", "yes"), ("fixed-length-shift", "20", "step", "yes"),
                    ("ngram-lookup", "1", "draft", "yes")]  # the n-gram copier stops at batch 8
    assert not any("differ" in line for line in lines)
