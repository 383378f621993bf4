"""Fuzzing ``python -m reports verify`` with malformed model files (:mod:`checks.malformed_files`).

Every drawn file (a valid export of one of four constructions, in either container, with one to
three mutations of its tensors, metadata, container or bytes) is verified in-process through
``verify_main`` under a time guard, with the peak resident memory of the run measured (Linux
``VmHWM``, reset before each case). Asserted for each:

* the exit code is 0, 1 or 2 and nothing escapes as a traceback;
* exit 2 comes with a *named* error (a :class:`~constructions.errors.ModelFileError` subclass) that
  ``verify.json`` and ``verify.md`` record;
* time and memory stay within :data:`SECONDS` and :data:`RSS_GROWTH`;
* exit 0 only for a network that is valid and correct: the file loads, the loaded network holds
  exactly the tensors the reference readers (safetensors, ``torch.load``) find in the file (nothing
  dropped, no imaginary part lost), it answers every instance of its format right, and, for the
  seed's own format, it gives the same answers as the construction the file came from.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings

from checks.malformed_files import SECONDS, as_values, independent_tensors, malformed_files, run_verify, seed_construction
from constructions import errors
from constructions.serialization import describe, load
from constructions.tasks import associative_recall as ar
from constructions.tasks import copying
from constructions.verification import verify

#: peak resident memory a case may add to the process (the largest seen is ~20 MiB)
RSS_GROWTH = 768 << 20
#: cases per profile (quick: ~25 s on 2 busy cores)
EXAMPLES = {"tiny": 50, "quick": 600, "thorough": 5000}
#: the suite's named errors: a bad file (ModelFileError subclasses) or a network that cannot be run
#: as the file says (e.g. NumericalRangeError: its outputs overflow float64)
NAMED = {cls.__name__ for cls in vars(errors).values()
         if isinstance(cls, type) and issubclass(cls, errors.SuiteError) and cls not in (errors.SuiteError, errors.ModelFileError)}


def _all_instances(config) -> torch.Tensor:
    if isinstance(config, ar.ARConfig):
        if ar.instance_count(config) <= 50_000:
            return ar.enumerate_instances(config).tokens
        return ar.generate(config, 2000, 0).tokens
    if config.alphabet**config.length <= 50_000:
        return copying.assemble(config, copying.all_strings(config.alphabet, config.length)).tokens
    return copying.generate(config, 2000, 0).tokens


def assert_passes_only_a_correct_network(path: Path, seed: str) -> None:
    loaded = load(path)
    held, stored = as_values(describe(loaded)[2]), as_values(independent_tensors(path))
    assert set(held) == set(stored), f"tensors in the file {sorted(stored)} but the network holds {sorted(held)}"
    for name, values in held.items():
        assert torch.equal(values, stored[name]), f"{name}: the network holds other values than the file"
    tokens = _all_instances(loaded.config)
    result = verify(loaded, tokens)
    assert result.ok, f"verify passed a network that fails: {result.describe()[:500]}"
    original = seed_construction(seed)
    if loaded.config == original.config:
        assert torch.equal(loaded.answer(tokens), original.answer(tokens))


def test_verify_on_malformed_files_exits_0_1_or_2_with_named_errors_in_bounded_time_and_memory(tmp_path_factory, sizes):
    seen = []

    @settings(max_examples=EXAMPLES.get(sizes.row, 100), derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.nested_given, HealthCheck.too_slow])
    @given(case=malformed_files())
    def check(case):
        folder = tmp_path_factory.mktemp("case")
        path = case.write(folder)
        run = run_verify(path, case.task, folder / "out")
        seen.append((run["seconds"], run["rss_growth"], run["rc"], repr(case)))
        assert run["rc"] in (0, 1, 2)
        assert "Traceback" not in run["stderr"]
        assert run["seconds"] < SECONDS and run["rss_growth"] < RSS_GROWTH
        result = json.loads((folder / "out" / "verify.json").read_text())
        assert result["exit_code"] == run["rc"]
        if run["rc"] == 2:
            assert result["error"]["type"] in NAMED, result["error"]
            assert result["error"]["type"] in (folder / "out" / "verify.md").read_text()
        if run["rc"] == 0:
            assert_passes_only_a_correct_network(path, case.seed)

    check()
    worst_time, worst_memory = max(seen), max(seen, key=lambda s: s[1])
    print(f"\n{len(seen)} malformed files; exit codes {sorted({s[2] for s in seen})}; slowest {worst_time[0]:.2f} s "
          f"({worst_time[3]}); largest peak memory growth {worst_memory[1] / 2**20:.0f} MiB ({worst_memory[3]})")
