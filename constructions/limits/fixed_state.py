"""Fixed-state copiers (generalized SSMs) and how well the best of them can copy.

Source: Jelassi, Brandfonbrener, Kakade, Malach 2024, "Repeat After Me" (related work), Theorem 2.7:
a GSSM with state set ``S`` has error ``> 1 - |S|/D^L`` on the uniform copy distribution; Corollary
2.8: ``mem(S) = log2|S| < L log2 D - 1`` implies error ``> 1/2``. The model, the search and the
witness below are the suite's (reconstructed); the statements are Jelassi's as PAPER.md §6 records them.

The model (a deterministic finite-state copier, one form of Jelassi's GSSM)
---------------------------------------------------------------------------
States ``0..k-1`` (``k = |S|``), an initial state ``s_0``, a transition table ``u: S x [D+1] -> S``
whose column ``D`` is the separator, and an output map ``r: S -> [D]``. On a string
``x = x_1..x_L`` over ``[D]``::

    read       s_t = u(s_{t-1}, x_t)             t = 1..L
    separator  g_0 = u(s_L, SEP)
    generate   y_j = r(g_{j-1}),  g_j = u(g_{j-1}, y_j)    j = 1..L   (outputs fed back)

The copy succeeds when ``y = x``; success is the fraction of the ``D^L`` strings copied (uniform
distribution), error = 1 - success. Arrays: ``transition (k, D+1)``, ``output (k,)``; batches of
automata stack them as ``(A,)``, ``(A, k, D+1)``, ``(A, k)``; strings are ``(B, L)`` integers.

Why the bound holds (the argument the relaxed search uses)
----------------------------------------------------------
After the separator nothing but the state is read: ``y_1 = r(g_0)``, ``g_1 = u(g_0, y_1)``, ... so
the whole generated string is a function ``G(g_0)`` of the state ``g_0`` reached after the separator.
Two different strings copied correctly cannot reach the same ``g_0`` (they would both equal
``G(g_0)``), so the copied strings inject into the reached states: success <= (number of distinct
``g_0`` reached) / D^L <= min(|S|, D^L) / D^L. For a *given* reading part (``s_0`` and ``u``) the best
conceivable generation -- any function of ``g_0``, feedback or not -- answers, from each reached
state, its most probable preimage; under the uniform distribution every preimage weighs ``D^-L``, so
this relaxed optimum is exactly (distinct reached states) / D^L.

What is computed
----------------
* :func:`exhaustive_best` -- assumption-free: every automaton ``(s_0, u, r)`` with ``k`` states is
  simulated on every string; the largest measured success. Cost ``k * k^(k(D+1)) * D^k`` automata
  times ``D^L`` strings, so only tiny ``(D, L, k)``.
* :func:`exhaustive_reached_states` -- the relaxation above, over every reading part; an upper bound
  on any copier's success that rests on the argument above. Only the symbol columns are enumerated:
  the separator column maps the reached states to at most as many states, and the identity column
  keeps them all, so it never lowers the maximum (``include_separator_column=True`` enumerates it too).
* :func:`cycle_witness` -- a copier with ``k`` states that copies ``min(k, D^L)`` strings, so the
  optimum is exactly ``min(k, D^L) / D^L`` and the error bound ``1 - k/D^L`` is attained; its success
  is measured by simulation (:func:`measured_success`), not asserted.

Resources: the searches hold ``chunk`` automata times ``D^L`` strings of int64 at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InfeasibleTaskError, ShapeError, TokenRangeError, require_positive_int

#: default cap on automata x strings (cells) one exhaustive search may simulate
DEFAULT_CELL_LIMIT = 1 << 28
#: automata simulated at once (times D^L strings per cell block)
DEFAULT_CHUNK_CELLS = 1 << 21


# ----------------------------------------------------------------------------- the model
@dataclass(frozen=True, eq=False)
class FiniteStateCopier:
    """One deterministic finite-state copier (see the module docstring for the semantics).

    ``transition[s, x]`` is the next state after reading symbol ``x`` (``x = alphabet`` is the
    separator) in state ``s``; ``output[s]`` the symbol emitted in state ``s`` while generating.
    """

    alphabet: int
    initial: int
    transition: np.ndarray
    output: np.ndarray

    def __post_init__(self):
        require_positive_int("alphabet", self.alphabet)
        transition = np.asarray(self.transition)
        output = np.asarray(self.output)
        if transition.ndim != 2 or transition.shape[1] != self.alphabet + 1:
            raise ShapeError(f"transition must have shape (states, alphabet + 1) = (k, {self.alphabet + 1}), "
                             f"got {transition.shape}")
        k = transition.shape[0]
        require_positive_int("states", k)
        if output.shape != (k,):
            raise ShapeError(f"output must have shape (states,) = ({k},), got {output.shape}")
        if not np.issubdtype(transition.dtype, np.integer) or not np.issubdtype(output.dtype, np.integer):
            raise TokenRangeError(f"transition and output must be integer arrays, got {transition.dtype}, {output.dtype}")
        if transition.min() < 0 or transition.max() >= k:
            raise TokenRangeError(f"transition entries must be states in [0, {k}), got range "
                                  f"[{transition.min()}, {transition.max()}]")
        if output.min() < 0 or output.max() >= self.alphabet:
            raise TokenRangeError(f"output entries must be symbols in [0, {self.alphabet}), got range "
                                  f"[{output.min()}, {output.max()}]")
        if isinstance(self.initial, bool) or not isinstance(self.initial, (int, np.integer)) or not 0 <= self.initial < k:
            raise TokenRangeError(f"initial state must be an integer in [0, {k}), got {self.initial!r}")
        object.__setattr__(self, "initial", int(self.initial))
        object.__setattr__(self, "transition", transition.astype(np.int64))
        object.__setattr__(self, "output", output.astype(np.int64))

    @property
    def states(self) -> int:
        return self.transition.shape[0]

    def __repr__(self) -> str:
        return (f"FiniteStateCopier(alphabet={self.alphabet}, initial={self.initial}, "
                f"transition={self.transition.tolist()}, output={self.output.tolist()})")


def _check_strings(strings: np.ndarray, alphabet: int) -> np.ndarray:
    strings = np.asarray(strings)
    if strings.ndim != 2:
        raise ShapeError(f"strings must have rank 2 (batch, length), got shape {strings.shape}")
    if strings.shape[1] < 1:
        raise ShapeError(f"strings must have length >= 1, got shape {strings.shape}")
    if strings.size and (strings.min() < 0 or strings.max() >= alphabet):
        raise TokenRangeError(f"string symbols must lie in [0, {alphabet}), got range [{strings.min()}, {strings.max()}]")
    return strings.astype(np.int64)


def copy_success_mask(initial: np.ndarray, transition: np.ndarray, output: np.ndarray, strings: np.ndarray) -> np.ndarray:
    """``(A, B)`` bool: does automaton ``a`` copy string ``b`` exactly?

    Batched over automata and strings; the only Python loop runs over the ``2L + 1`` time steps.
    ``initial (A,)``, ``transition (A, k, D+1)`` (column ``D`` = separator), ``output (A, k)``,
    ``strings (B, L)`` with symbols in ``[0, D)``.
    """
    A, k, columns = transition.shape
    alphabet = columns - 1
    strings = _check_strings(strings, alphabet)
    B, L = strings.shape
    flat = transition.reshape(-1).astype(np.int64)
    out_flat = output.reshape(-1).astype(np.int64)
    base = (np.arange(A, dtype=np.int64) * k)[:, None]  # row offset of automaton a's state block
    state = np.broadcast_to(np.asarray(initial, dtype=np.int64)[:, None], (A, B))
    for t in range(L):  # read
        state = flat[(base + state) * columns + strings[None, :, t]]
    state = flat[(base + state) * columns + alphabet]  # separator
    correct = np.ones((A, B), dtype=bool)
    for t in range(L):  # generate with feedback
        y = out_flat[base + state]
        correct &= y == strings[None, :, t]
        state = flat[(base + state) * columns + y]
    return correct


def generated_strings(copier: FiniteStateCopier, strings: np.ndarray) -> np.ndarray:
    """``(B, L)``: what ``copier`` generates after reading each string and the separator (batched)."""
    strings = _check_strings(strings, copier.alphabet)
    B, L = strings.shape
    state = np.full(B, copier.initial, dtype=np.int64)
    for t in range(L):
        state = copier.transition[state, strings[:, t]]
    state = copier.transition[state, copier.alphabet]
    out = np.empty((B, L), dtype=np.int64)
    for t in range(L):
        out[:, t] = copier.output[state]
        state = copier.transition[state, out[:, t]]
    return out


def reference_generate(copier: FiniteStateCopier, string) -> tuple[int, ...]:
    """Slow, obviously-correct reference of one run (a per-symbol Python loop; tests only)."""
    state = copier.initial
    for x in string:
        state = int(copier.transition[state, x])
    state = int(copier.transition[state, copier.alphabet])
    out = []
    for _ in range(len(string)):
        y = int(copier.output[state])
        out.append(y)
        state = int(copier.transition[state, y])
    return tuple(out)


def all_strings(alphabet: int, length: int) -> np.ndarray:
    """Every string over ``[alphabet]`` of ``length`` symbols, ``(alphabet^length, length)``, in
    lexicographic order (row ``i`` is ``i`` written in base ``alphabet``)."""
    require_positive_int("alphabet", alphabet)
    require_positive_int("length", length)
    index = np.arange(alphabet**length, dtype=np.int64)
    powers = alphabet ** np.arange(length - 1, -1, -1, dtype=np.int64)
    return (index[:, None] // powers[None, :]) % alphabet


def measured_success(copier: FiniteStateCopier, length: int) -> Fraction:
    """The fraction of all ``D^length`` strings that ``copier`` copies, measured by simulation."""
    require_positive_int("length", length)
    strings = all_strings(copier.alphabet, length)
    mask = copy_success_mask(np.array([copier.initial]), copier.transition[None], copier.output[None], strings)
    return Fraction(int(mask.sum()), copier.alphabet**length)


# ----------------------------------------------------------------------------- closed forms
def success_bound(alphabet: int, length: int, states: int) -> Fraction:
    """Theorem 2.7 as a bound on success: ``|S| / D^L`` (error >= 1 - |S|/D^L). May exceed 1."""
    _validate(alphabet, length, states)
    return Fraction(states, alphabet**length)


def optimum(alphabet: int, length: int, states: int) -> Fraction:
    """The best success a ``|S|``-state copier reaches: ``min(|S|, D^L) / D^L`` (attained by
    :func:`cycle_witness`, never exceeded by the argument of the module docstring)."""
    _validate(alphabet, length, states)
    return Fraction(min(states, alphabet**length), alphabet**length)


def _validate(alphabet: int, length: int, states: int) -> None:
    require_positive_int("alphabet", alphabet)
    require_positive_int("length", length)
    require_positive_int("states", states)


# ----------------------------------------------------------------------------- exhaustive searches
@dataclass(frozen=True)
class SearchResult:
    """Outcome of one exhaustive search: the best success over ``searched`` candidates and one
    candidate reaching it."""

    alphabet: int
    length: int
    states: int
    searched: int
    best_count: int
    best: FiniteStateCopier | None
    method: str

    @property
    def best_success(self) -> Fraction:
        return Fraction(self.best_count, self.alphabet**self.length)

    def to_dict(self) -> dict:
        return dict(alphabet=self.alphabet, length=self.length, states=self.states, method=self.method,
                    candidates_searched=self.searched, best_success=str(self.best_success),
                    bound=str(success_bound(self.alphabet, self.length, self.states)))


def _digits(index: np.ndarray, radix: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` lowest base-``radix`` digits of ``index`` (least significant first), and the rest."""
    out = np.empty((index.shape[0], count), dtype=np.int64)
    for j in range(count):  # loop over digit positions, batched over indices
        out[:, j] = index % radix
        index = index // radix
    return out, index


def _require_budget(what: str, candidates: int, strings: int, limit: int) -> None:
    cells = candidates * strings
    if cells > limit:
        raise InfeasibleTaskError(
            f"exhaustive {what} needs {candidates:,} candidates x {strings:,} strings = {cells:,} simulations, "
            f"over the limit of {limit:,}; lower the alphabet, length or states, or raise the limit")


def exhaustive_best(alphabet: int, length: int, states: int, *, initial_states: str = "all",
                    limit: int = DEFAULT_CELL_LIMIT, chunk_cells: int = DEFAULT_CHUNK_CELLS) -> SearchResult:
    """The largest success of any ``states``-state copier, by simulating every automaton on every string.

    Enumerates every initial state (or only state 0 with ``initial_states="zero"``: relabelling the
    states maps any automaton to one starting in 0 with the same success), every transition table
    ``u: [k] x [D+1] -> [k]`` and every output map ``r: [k] -> [D]``: ``k * k^(k(D+1)) * D^k``
    automata (``k^(k(D+1)) * D^k`` with a fixed start). Raises :class:`InfeasibleTaskError` naming
    the size when automata x strings exceeds ``limit``.
    """
    _validate(alphabet, length, states)
    if initial_states not in ("all", "zero"):
        raise InfeasibleTaskError(f"initial_states must be 'all' or 'zero', got {initial_states!r}")
    k, columns = states, alphabet + 1
    starts = k if initial_states == "all" else 1
    total = starts * k ** (k * columns) * alphabet**k
    strings = all_strings(alphabet, length)
    _require_budget("search over copiers", total, strings.shape[0], limit)
    def copied(index):
        initial, rest = (index % starts, index // starts)
        table, rest = _digits(rest, k, k * columns)
        out, _ = _digits(rest, alphabet, k)
        return copy_success_mask(initial, table.reshape(-1, k, columns), out, strings).sum(axis=1)

    best_count, best_index = _best_candidate(copied, total, max(1, chunk_cells // strings.shape[0]))
    best = _decode_copier(best_index, alphabet, k, starts)
    return SearchResult(alphabet, length, states, total, best_count, best, f"every copier (initial states: {initial_states})")


def _best_candidate(score, total: int, chunk: int) -> tuple[int, int]:
    """``(best score, its index)`` over candidates ``0 .. total - 1``, scored ``chunk`` at a time by
    ``score(indices) -> counts`` (the first index wins ties)."""
    best_count, best_index = -1, 0
    for start in range(0, total, chunk):
        index = np.arange(start, min(total, start + chunk), dtype=np.int64)
        counts = score(index)
        a = int(counts.argmax())
        if counts[a] > best_count:
            best_count, best_index = int(counts[a]), int(index[a])
    return best_count, best_index


def _decode_copier(index: int, alphabet: int, k: int, starts: int) -> FiniteStateCopier:
    idx = np.array([index], dtype=np.int64)
    initial, rest = idx % starts, idx // starts
    table, rest = _digits(rest, k, k * (alphabet + 1))
    out, _ = _digits(rest, alphabet, k)
    return FiniteStateCopier(alphabet, int(initial[0]), table.reshape(k, alphabet + 1), out[0])


def exhaustive_reached_states(alphabet: int, length: int, states: int, *, include_separator_column: bool = False,
                              initial_states: str = "all", limit: int = DEFAULT_CELL_LIMIT,
                              chunk_cells: int = DEFAULT_CHUNK_CELLS) -> SearchResult:
    """The relaxed optimum: over every reading part (``s_0`` and the transition table), the largest
    number of distinct states reached after reading all ``D^L`` strings and the separator.

    By the argument of the module docstring, (distinct reached states) / D^L bounds the success of
    every copier with that reading part, whatever its generation; the maximum over reading parts
    bounds every ``states``-state copier. Without ``include_separator_column`` the separator column is
    the identity (never lowers the count: a map cannot enlarge a set) and only the ``k^(kD)`` symbol
    columns are enumerated. ``best`` is a reading part reaching the maximum (output map zero).
    """
    _validate(alphabet, length, states)
    if initial_states not in ("all", "zero"):
        raise InfeasibleTaskError(f"initial_states must be 'all' or 'zero', got {initial_states!r}")
    k = states
    columns = alphabet + 1 if include_separator_column else alphabet
    starts = k if initial_states == "all" else 1
    total = starts * k ** (k * columns)
    strings = all_strings(alphabet, length)
    _require_budget("search over reading tables", total, strings.shape[0], limit)
    def reached(index):
        A = index.shape[0]
        initial, rest = index % starts, index // starts
        table, _ = _digits(rest, k, k * columns)
        flat = table.reshape(-1)
        base = (np.arange(A, dtype=np.int64) * k)[:, None]
        state = np.broadcast_to(initial[:, None], (A, strings.shape[0]))
        for t in range(length):
            state = flat[(base + state) * columns + strings[None, :, t]]
        if include_separator_column:
            state = flat[(base + state) * columns + alphabet]
        seen = np.zeros(A * k, dtype=bool)
        seen[(base + state).reshape(-1)] = True
        return seen.reshape(A, k).sum(axis=1)

    best_count, best_index = _best_candidate(reached, total, max(1, chunk_cells // strings.shape[0]))
    idx = np.array([best_index], dtype=np.int64)
    initial, rest = idx % starts, idx // starts
    table, _ = _digits(rest, k, k * columns)
    table = table.reshape(k, columns)
    if not include_separator_column:
        table = np.concatenate([table, np.arange(k)[:, None]], axis=1)
    best = FiniteStateCopier(alphabet, int(initial[0]), table, np.zeros(k, dtype=np.int64))
    method = "reading tables, separator column " + ("enumerated" if include_separator_column else "identity")
    return SearchResult(alphabet, length, states, total, best_count, best, method + f" (initial states: {initial_states})")


# ----------------------------------------------------------------------------- the witness
#: nodes a cycle search may visit before giving up
CYCLE_SEARCH_BUDGET = 1 << 20


def de_bruijn_sequence(alphabet: int, length: int) -> tuple[int, ...]:
    """The lexicographically least de Bruijn sequence: every ``length``-string over ``[alphabet]`` occurs
    exactly once as a cyclic window (Fredricksen-Kessler-Maiorana: concatenated Lyndon words whose
    length divides ``length``; a small exact reference loop, ``D^L`` symbols)."""
    _validate(alphabet, length, 1)
    a = [0] * (length + 1)
    sequence: list[int] = []

    def lyndon(t: int, p: int) -> None:
        if t > length:
            if length % p == 0:
                sequence.extend(a[1 : p + 1])
            return
        a[t] = a[t - p]
        lyndon(t + 1, p)
        for symbol in range(a[t - p] + 1, alphabet):
            a[t] = symbol
            lyndon(t + 1, t)

    lyndon(1, 1)
    return tuple(sequence)


def distinct_window_cycle(alphabet: int, length: int, size: int, *, budget: int = CYCLE_SEARCH_BUDGET) -> tuple[int, ...]:
    """A cyclic sequence ``X`` of ``size`` symbols whose ``size`` cyclic windows of ``length`` symbols
    are pairwise distinct (``1 <= size <= D^L``).

    Such an ``X`` is a cycle of length ``size`` in the de Bruijn graph of order ``length`` (nodes:
    ``length``-strings; an edge shifts one symbol in); de Bruijn graphs have cycles of every length
    from 1 to ``D^L`` (Lempel 1971). ``size = D^L`` is a de Bruijn sequence; other sizes are found by
    depth-first search (symbols tried in ascending, then descending order; small graphs only: raises
    :class:`InfeasibleTaskError` after ``budget`` visits per order).
    """
    _validate(alphabet, length, size)
    nodes = alphabet**length
    if size > nodes:
        raise InfeasibleTaskError(f"no cycle of {size} distinct {length}-windows over {alphabet} symbols: only {nodes} exist")
    if size == nodes:
        return de_bruijn_sequence(alphabet, length)
    for order in (tuple(range(alphabet)), tuple(range(alphabet - 1, -1, -1))):
        found = _cycle_search(alphabet, nodes, size, order, budget)
        if found is not None:
            return found
    raise InfeasibleTaskError(f"cycle search for size {size} over D={alphabet}, L={length} found no cycle within "
                              f"{budget:,} visits per symbol order")


def _cycle_search(alphabet: int, nodes: int, size: int, order: tuple[int, ...], budget: int) -> tuple[int, ...] | None:
    """Depth-first search for a cycle of ``size`` distinct nodes in the de Bruijn graph (node ``v``
    has successors ``(v * D) mod D^L + y``); ``None`` when ``budget`` visits pass without one."""
    visits = 0
    for start in range(nodes):
        path, on_path = [start], {start}
        stack = [iter(order)]
        while stack:
            visits += 1
            if visits > budget:
                return None
            symbol = next(stack[-1], None)
            if symbol is None:
                stack.pop()
                on_path.discard(path.pop())
                continue
            nxt = (path[-1] * alphabet) % nodes + symbol
            if len(path) == size:
                if nxt == start:
                    # node v's last symbol is the symbol X has at that position
                    return tuple(int(node % alphabet) for node in path)
                continue
            if nxt in on_path:
                continue
            path.append(nxt)
            on_path.add(nxt)
            stack.append(iter(order))
    return None


def cycle_witness(alphabet: int, length: int, states: int) -> FiniteStateCopier:
    """A ``states``-state copier that copies exactly ``min(states, D^L)`` strings.

    Construction (the suite's, reconstructed). Take ``m = min(k, D^L)`` and a cyclic sequence
    ``X = x_0..x_{m-1}`` with pairwise distinct cyclic windows ``w_i = x_i..x_{i+L-1}``
    (:func:`distinct_window_cycle`). States ``c_0..c_{m-1}`` sit on a cycle: ``u(c_j, x_j) = c_{j+1}``
    and ``r(c_j) = x_j``, so generation from ``c_i`` outputs ``w_i``. Reading follows the *longest
    agreeing history*: ``u(c_j, y) = c_{p+1}`` for the position ``p`` with ``x_p = y`` whose past
    ``x_{p-1}, x_{p-2}, ...`` agrees longest with ``c_j``'s past ``x_{j-1}, x_{j-2}, ...`` (ties: ``p = j``,
    then the smallest ``p``). By induction, after reading ``t <= L`` symbols of a window the state's past
    equals the last ``t`` symbols read (every prefix of a window occurs in ``X``), so reading ``w_i``
    ends in ``c_{i+L}`` (windows are distinct); the separator maps ``c_{i+L} -> c_i``. Hence every
    ``w_i`` is copied: ``m`` strings. States beyond ``m`` are unused (self-loops). The success is
    measured by :func:`measured_success`, not taken from this argument.
    """
    _validate(alphabet, length, states)
    m = min(states, alphabet**length)
    x = np.array(distinct_window_cycle(alphabet, length, m), dtype=np.int64)
    # agree[p, j] = number of consecutive steps r = 1, 2, ..., cap with x_{p-r} == x_{j-r}. Capping at
    # cap = min(m, L) loses nothing: reading compares at most L symbols of history, agreement over m
    # steps is agreement forever (X has period m), and agreement over L steps plus x_p = x_j forces
    # p = j (equal windows), so the cycle edges u(c_j, x_j) = c_{j+1} stay the unique maxima.
    cap = min(m, length)
    r = np.arange(1, cap + 1)
    past = x[(np.arange(m)[:, None] - r[None, :]) % m]  # (m, cap): past[p, r-1] = x_{p-r}
    equal = past[:, None, :] == past[None, :, :]  # (p, j, r): m^2 cap booleans
    agree = np.cumprod(equal, axis=2).sum(axis=2)  # (p, j)
    transition = np.tile(np.arange(states, dtype=np.int64)[:, None], (1, alphabet + 1))
    for y in range(alphabet):  # one column per symbol, batched over states j
        candidates = np.flatnonzero(x == y)
        if candidates.size == 0:
            continue  # strings with y are not among the windows; keep the self-loop
        score = agree[candidates] * (cap + 1) + (candidates[:, None] == np.arange(m)[None, :])  # tie: p = j
        # argmax picks the first maximum, i.e. the smallest p among remaining ties
        p = candidates[score.argmax(axis=0)]
        transition[:m, y] = (p + 1) % m
    transition[:m, alphabet] = (np.arange(m) - length) % m  # separator: c_{i+L} -> c_i
    output = np.zeros(states, dtype=np.int64)
    output[:m] = x
    return FiniteStateCopier(alphabet, 0, transition, output)
