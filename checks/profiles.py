"""Check profiles: how many examples hypothesis draws and how large the instances get.

``quick`` is the default (CI and ``python -m reports``: minutes on 2 CPU cores); ``thorough`` is for
long and GPU runs; ``tiny`` is for testing the suite itself. ``paper`` is the quick profile with the
paper's experiments at the paper's scale (Fig. C.1's format and models, at least 3 seeds, the
genomic task at its long length): every other check reads the quick rows of its size tables
(:attr:`Sizes.row`), the trained experiments have rows of their own (within 30 minutes on 2 cores). Select with ``--suite-profile`` or the
``SSM_SUITE_PROFILE`` environment variable; checks read the sizes through the ``sizes`` fixture.

Every profile is deterministic: without a seed hypothesis is derandomized (examples depend only on
the test), with ``--suite-seed N`` every draw depends on N alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import HealthCheck, Phase, settings


@dataclass(frozen=True)
class Sizes:
    name: str
    max_examples: int
    #: largest key/value vocabulary for binary-code constructions (each side)
    binary_vocab_max: int
    #: longest sequence in randomized checks
    length_max: int
    #: largest key/value vocabulary for one-hot constructions (width grows like |V|^2)
    onehot_vocab_max: int
    #: instances per randomized batch
    batch: int
    #: vocabulary exponents (|V| = 2^e) of the growth grids
    binary_growth_exponents: tuple[int, ...]
    onehot_growth_exponents: tuple[int, ...]
    #: enumeration budget for exhaustive checks (instances per configuration)
    exhaustive_limit: int
    #: longest string for the fixed-length copier (the sequence is twice as long, plus 3)
    copy_length_max: int
    #: Monte Carlo of the n-gram copier's error: (alphabet D, string length L, n-gram n, strings)
    copy_error_run: tuple[int, int, int, int]
    #: sequence length of the wide constructions' long-length checks (outer product, n-gram lookup;
    #: the structured fast path, constructions/sparse_path.py)
    wide_length: int = 256
    #: the row of the checks' per-profile size tables this profile reads (``None``: its own ``name``);
    #: the ``paper`` profile reads the quick rows everywhere but in the trained experiments
    table_row: str | None = None

    @property
    def row(self) -> str:
        """The key of the checks' per-profile tables (``GRID[sizes.row]``); the trained experiments key
        theirs by :attr:`name`."""
        return self.table_row or self.name


PROFILES: dict[str, Sizes] = {
    "tiny": Sizes("tiny", 5, 16, 64, 4, 8, tuple(range(2, 17)), (2, 3, 4), 20_000, 16, (8, 8, 3, 64)),
    "quick": Sizes("quick", 25, 1 << 12, 1 << 10, 12, 32, tuple(range(2, 21)), (2, 3, 4, 5, 6), 50_000, 1 << 10,
                   (8, 10, 3, 512), wide_length=1 << 12),
    "thorough": Sizes("thorough", 250, 1 << 20, 1 << 14, 24, 128, tuple(range(2, 31)), (2, 3, 4, 5, 6, 7), 500_000,
                      1 << 16, (8, 12, 3, 4096), wide_length=1 << 16),
}
PROFILES["paper"] = replace(PROFILES["quick"], name="paper", table_row="quick")

_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]

for _sizes in PROFILES.values():
    settings.register_profile(
        _sizes.name,
        max_examples=_sizes.max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=_SUPPRESSED,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )

_active = PROFILES["quick"]
_seed: int | None = None

#: seeds are 0 .. 2^32 - 1: the checks derive seeds from it (e.g. ``1000 (seed + 1) + i``) that must
#: still fit torch's 64-bit generators
SEED_MAX = 2**32 - 1


def activate(name: str, seed: int | None = None) -> Sizes:
    """Load profile ``name`` (hypothesis settings and sizes); with ``seed``, seed every draw by it."""
    global _active, _seed
    _seed = seed
    if name not in PROFILES:
        raise KeyError(f"unknown suite profile {name!r}; choose one of {sorted(PROFILES)}")
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise KeyError(f"a suite seed is an integer from 0 to {SEED_MAX}, got {seed}")
    if seed is None:
        settings.load_profile(name)
    else:
        seeded = f"{name}-seed{seed}"
        settings.register_profile(seeded, parent=settings.get_profile(name), derandomize=False)
        settings.load_profile(seeded)
        from hypothesis import core

        core.global_force_seed = seed  # what `pytest --hypothesis-seed` sets
    _active = PROFILES[name]
    return _active


def current() -> Sizes:
    return _active


def current_seed() -> int | None:
    """The seed of the active profile (``--suite-seed``), ``None`` when derandomized."""
    return _seed


def control_settings() -> settings:
    """Settings for a control's search (a check run against a broken construction must find the
    break): at least 100 examples whatever the profile, since a control that gives up proves nothing."""
    return settings(max_examples=max(100, _active.max_examples))


@dataclass(frozen=True)
class ComparisonGrids:
    """Grids of the side-by-side comparison of SSM+FNN and Transformer constructions
    (``checks/side_by_side.py``): recall over ``|V| = 2^e`` (binary-code and one-hot constructions
    apart: one-hot ones have ``|V|^2``-sized layers) with ``pairs_for_vocab`` pairs, and over the
    number of pairs ``N = 2^e`` at ``|V| = vocab_for_pairs``; copying over ``L = 2^e`` (error
    ``eps = 10^-copy_eps_default``) and over ``eps = 10^-e`` at ``L = copy_length_for_eps``, alphabet
    ``copy_alphabet``."""

    binary_vocab_exponents: tuple[int, ...]
    onehot_vocab_exponents: tuple[int, ...]
    pairs_for_vocab: int
    pair_exponents: tuple[int, ...]
    vocab_for_pairs: int
    copy_length_exponents: tuple[int, ...]
    copy_eps_exponents: tuple[int, ...]
    copy_eps_default: int
    copy_length_for_eps: int
    copy_alphabet: int = 4


COMPARISON: dict[str, ComparisonGrids] = {
    "tiny": ComparisonGrids(tuple(range(2, 17)), (2, 3, 4, 5, 6), 4, (1, 2, 3, 4, 5), 32, tuple(range(4, 13)), tuple(range(1, 13)),
                            2, 64),
    "quick": ComparisonGrids(tuple(range(2, 21)), tuple(range(2, 9)), 4, tuple(range(1, 7)), 64, tuple(range(4, 15)),
                             tuple(range(1, 13)), 2, 64),
    "thorough": ComparisonGrids(tuple(range(2, 31)), tuple(range(2, 11)), 4, tuple(range(1, 9)), 256, tuple(range(4, 21)),
                                tuple(range(1, 17)), 2, 64),
}


def comparison_grids() -> ComparisonGrids:
    return COMPARISON[_active.row]
