"""SSM+FNN and Transformer constructions side by side, format by format (claims ``comparable.*``,
``transformer.vs-ssm.resources``, ``copy.polylog.length``).

Only constructions of the same format are measured together:

=========================  ===========================================  =======================================
format                     SSM+FNN                                      Transformer
=========================  ===========================================  =======================================
query-last AR (1 query)    outer product (one-hot), precision route     Zoology attention (one-hot), binary
                           (binary codes)                               attention
MQAR (N pairs, N queries)  outer product (one-hot)                      Zoology attention, binary attention
query-first AR             binary match                                 binary attention, query first
copying (length L, eps)    fixed-length shift, n-gram lookup            Jelassi n-gram lookup
=========================  ===========================================  =======================================

Grid variables (:func:`checks.profiles.comparison_grids`): recall over ``|V| = K = V`` (one-hot
constructions on a shorter grid: their layers have ``|V|^2`` entries) and over the number of pairs
``N``; copying over ``L`` (error ``eps`` fixed) and over ``1/eps`` (``L`` fixed), with n-grams of
length ``n(L, eps) = ceil(log(L^2/eps) / log D)`` (then ``P(repeated n-gram) < L^2 D^-n <= eps``,
Jelassi et al. Lemma 2.4; the fixed-length copier is exact for every eps).

At every grid point each construction is built and its resources read off the tensors
(:func:`claims.comparison.judged`, :func:`claims.comparison.limited`); each judged resource gets a
growth class over each variable (:func:`claims.growth.growth_class`) with the construction's closed
form where it has one (the module's ``closed_form()``, substituted along the variable). The n-gram
SSM copier cannot be built for the n-grams long strings need (``(D+2)^n (D+1)`` memory cells); its
width comes from its closed form, which ``transformer.vs-ssm.resources`` checks against the built
network for ``n <= 3``. Everything is computed once per process (:func:`measure_format` is cached).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp

from checks import profiles
from claims.comparison import JUDGED, format_verdict, judged, judged_closed_form, limited
from claims.growth import fitted_curve, growth_class
from constructions.associative_recall import binary_query_first, outer_product, precision_route
from constructions.construction import Construction
from constructions.copying import fixed_length, ngram
from constructions.padding import pad_with_dead_units
from constructions.tasks.associative_recall import ARConfig
from constructions.tasks.copying import CopyConfig
from constructions.threads import single_threaded
from constructions.transformer import binary_attention, copy_jelassi, mqar_zoology
from constructions.transformer import binary_query_first as attention_query_first

GRIDS = profiles.comparison_grids()
X = sp.Symbol("x", positive=True)
# symbols of the closed forms: recall (keys, values, pairs; Zoology's c = K = V); copying (alphabet,
# string length, error)
K, V, N, C = (sp.Symbol(s, positive=True, integer=True) for s in ("K", "V", "N", "c"))
D, LENGTH = (sp.Symbol(s, positive=True, integer=True) for s in ("D", "L"))
#: the modules' ``n``: key length (recall), string length (fixed-length copier) or n-gram length
MODULE_N = sp.Symbol("n", positive=True, integer=True)
EPS = sp.Symbol("eps", positive=True)
#: the n-gram length n(L, eps) as a closed form
NGRAM = sp.ceiling(sp.log(LENGTH**2 / EPS) / sp.log(D))


def ngram_length(length: int, eps: float, alphabet: int = GRIDS.copy_alphabet) -> int:
    """``n(L, eps) = ceil(log(L^2/eps) / log D)``: the n-gram length that makes a repeat less likely
    than eps on uniform strings (Jelassi et al., Lemma 2.4)."""
    return math.ceil(math.log(length**2 / eps) / math.log(alphabet))


# ----------------------------------------------------------------------------- formats
@dataclass(frozen=True, eq=False)
class Point:
    """One grid point: the value of the variable, the task format there, the n-gram length (copying)."""

    x: float
    config: Any
    ngram: int | None = None

    @property
    def context(self) -> int:
        """Sequence length: what a layer that sees the whole sequence spans."""
        return self.config.sequence_length if isinstance(self.config, CopyConfig) else self.config.length


@dataclass(frozen=True, eq=False)
class Variable:
    """A grid variable: its values per token encoding, the format at each value, the closed-form
    substitutions that express every resource in ``X``, and the information limit (bits)."""

    name: str
    grids: dict  # encoding -> grid values
    point: Callable[[float], Point]
    subs: dict
    limit: Callable[[Point], float]


@dataclass(frozen=True, eq=False)
class Entry:
    """One construction of a format. ``closed_form``: judged resources in the format's symbols;
    ``closed_form_only``: no network is built, the judged values are the closed form's."""

    label: str
    kind: str  # "ssm" | "transformer"
    encoding: str  # "onehot" | "binary" | "copy": which grid
    build: Callable[[Point], Construction] | None
    closed_form: dict = field(default_factory=dict)
    closed_form_only: bool = False


@dataclass(frozen=True, eq=False)
class Format:
    """A task format: its grid variables and its constructions, and the information limit (PAPER.md §5)."""

    name: str
    limit_text: str
    variables: tuple[Variable, ...]
    entries: tuple[Entry, ...]

    def entry(self, label: str) -> Entry:
        return next(e for e in self.entries if e.label == label)


def _recall_variables(query: str, queries_per_pair: bool, limit) -> tuple[Variable, ...]:
    g = GRIDS

    def config(keys, pairs):
        return ARConfig(keys, keys, pairs, num_queries=pairs if queries_per_pair else 1, query=query)

    vocab = Variable("|V|", {"binary": [2**e for e in g.binary_vocab_exponents], "onehot": [2**e for e in g.onehot_vocab_exponents]},
                     lambda x: Point(x, config(int(x), g.pairs_for_vocab)), {K: X, V: X, C: X, N: g.pairs_for_vocab}, limit)
    pairs = Variable("N", {enc: [2**e for e in g.pair_exponents] for enc in ("binary", "onehot")},
                     lambda x: Point(x, config(g.vocab_for_pairs, int(x))), {K: g.vocab_for_pairs, V: g.vocab_for_pairs,
                                                                             C: g.vocab_for_pairs, N: X}, limit)
    return vocab, pairs


def _pairs_times_log_vocab(p: Point) -> float:
    return p.config.num_pairs * math.log2(p.config.num_values)


def _entry(label, kind, encoding, module, *, subs=None) -> Entry:
    closed = {k: (e.subs(subs) if subs else e) for k, e in module.closed_form().items()}
    return Entry(label, kind, encoding, lambda p: module.build(p.config), judged_closed_form(kind, closed))


OUTER = _entry("SSM+FNN outer product (one-hot)", "ssm", "onehot", outer_product)
PRECISION = _entry("SSM+FNN precision route (binary)", "ssm", "binary", precision_route)
ZOOLOGY = _entry("Transformer Zoology attention (one-hot)", "transformer", "onehot", mqar_zoology)
BINARY_ATTENTION = _entry("Transformer binary attention", "transformer", "binary", binary_attention)
BINARY_MATCH = _entry("SSM+FNN binary match (query first)", "ssm", "binary", binary_query_first, subs={MODULE_N: 1})
ATTENTION_QUERY_FIRST = _entry("Transformer binary attention (query first)", "transformer", "binary", attention_query_first)

QUERY_LAST = Format(
    "query-last AR", "N log2 |V| bits (the pairs, before the query is seen)",
    _recall_variables("last", False, _pairs_times_log_vocab), (OUTER, PRECISION, ZOOLOGY, BINARY_ATTENTION))
MQAR = Format(
    "MQAR", "N log2 |V| bits (the pairs, before the first query is seen)",
    _recall_variables("last", True, _pairs_times_log_vocab), (OUTER, ZOOLOGY, BINARY_ATTENTION))
QUERY_FIRST = Format(
    "query-first AR", "log2 |V| bits (the answer: the query precedes the pairs)",
    _recall_variables("first", False, lambda p: math.log2(p.config.num_values)), (BINARY_MATCH, ATTENTION_QUERY_FIRST))


def _copy_variables() -> tuple[Variable, ...]:
    g = GRIDS
    eps0 = 10.0 ** -g.copy_eps_default
    limit = lambda p: p.config.length * math.log2(p.config.alphabet)  # noqa: E731
    lengths = Variable("L", {"copy": [2**e for e in g.copy_length_exponents]},
                       lambda x: Point(x, CopyConfig(g.copy_alphabet, int(x)), ngram_length(int(x), eps0)),
                       {LENGTH: X, EPS: sp.Rational(1, 10**g.copy_eps_default), D: g.copy_alphabet}, limit)
    errors = Variable("1/eps", {"copy": [10**e for e in g.copy_eps_exponents]},
                      lambda x: Point(x, CopyConfig(g.copy_alphabet, g.copy_length_for_eps), ngram_length(g.copy_length_for_eps, 1 / x)),
                      {LENGTH: g.copy_length_for_eps, EPS: 1 / X, D: g.copy_alphabet}, limit)
    return lengths, errors


COPYING = Format(
    "copying", "L log2 D bits (the string, before the copy starts)", _copy_variables(),
    (
        Entry("SSM+FNN fixed-length shift", "ssm", "copy", lambda p: fixed_length.build(p.config),
              judged_closed_form("ssm", {k: e.subs(MODULE_N, LENGTH) for k, e in fixed_length.closed_form().items()})),
        Entry("SSM+FNN n-gram lookup (closed form)", "ssm", "copy", None,
              judged_closed_form("ssm", {k: e.subs(MODULE_N, NGRAM) for k, e in ngram.closed_form().items()}), closed_form_only=True),
        Entry("Transformer n-gram lookup, Jelassi", "transformer", "copy", lambda p: copy_jelassi.build(p.config, p.ngram),
              judged_closed_form("transformer", {k: e.subs(MODULE_N, NGRAM) for k, e in copy_jelassi.closed_form().items()})),
    ),
)

FORMATS = (QUERY_LAST, MQAR, QUERY_FIRST, COPYING)


# ----------------------------------------------------------------------------- variants (controls)
def padded(entry: Entry, count: Callable[[Point], int], *, keep_closed_form: bool) -> Entry:
    """``entry`` with ``count(point)`` dead units added (still exact, see
    :mod:`constructions.padding`); with ``keep_closed_form`` its now wrong closed form is kept, else
    it is judged from the measurements alone."""
    build = entry.build
    return dataclasses.replace(entry, label=f"{entry.label} + dead units", build=lambda p: pad_with_dead_units(build(p), count(p)),
                               closed_form=entry.closed_form if keep_closed_form else {})


def variant(fmt: Format, replace: dict[str, Entry], max_points: dict[str, float] | None = None) -> Format:
    """``fmt`` with entries replaced by label, and each variable's grid cut at ``max_points``."""
    entries = tuple(replace.get(e.label, e) for e in fmt.entries)
    variables = tuple(v if v.name not in (max_points or {}) else
                      dataclasses.replace(v, grids={enc: [x for x in xs if x <= max_points[v.name]] for enc, xs in v.grids.items()})
                      for v in fmt.variables)  # an uncut variable stays the same object: its measurements are reused
    return dataclasses.replace(fmt, entries=entries, variables=variables)


# ----------------------------------------------------------------------------- measurement
@dataclass
class Series:
    """One construction along one variable: measured judged and limited values, and the closed
    form's values at the same points."""

    xs: list
    judged: dict = field(default_factory=dict)
    limited: dict = field(default_factory=dict)
    closed: dict = field(default_factory=dict)


@dataclass
class Measured:
    format: Format
    series: dict  # variable -> label -> Series
    tables: dict  # variable -> label -> {resource: growth cell}
    limited_tables: dict  # variable -> label -> {resource: growth cell}, plus the information limit
    mismatches: list  # closed form != measured, "label, variable x, resource: closed vs measured"

    def verdict(self) -> dict:
        by_kind = {"ssm": {}, "transformer": {}}
        for e in self.format.entries:
            by_kind[e.kind][e.label] = {v: self.tables[v][e.label] for v in self.tables}
        return format_verdict(by_kind["ssm"], by_kind["transformer"])

    def unclear(self) -> list[tuple[str, str, str]]:
        return [(v, label, r) for v, t in self.tables.items() for label, row in t.items() for r, cell in row.items()
                if cell["class"] == "unclear"]


def classifiable(expr: sp.Expr) -> sp.Expr:
    """``expr`` (in ``X``) in a form sympy's limits handle, equal up to a bounded factor: ceilings
    dropped (as :mod:`claims.growth` does), and every ``b**(c log u / log d)`` with ``u`` depending on
    ``X`` written ``u**(c log b / log d)`` (the same number: both are ``exp(c log b log u / log d)``)."""
    expr = expr.replace(sp.ceiling, lambda a: a)

    def x_log(t):
        return next((f for f in sp.Mul.make_args(t.exp) if isinstance(f, sp.log) and f.has(X)), None)

    def swap(t):
        log_u = x_log(t)
        rest = sp.Mul(*[f for f in sp.Mul.make_args(t.exp) if f is not log_u])
        return log_u.args[0] ** (sp.log(t.base) * rest)

    return expr.replace(lambda t: t.is_Pow and not t.base.has(X) and x_log(t) is not None, swap)


def _value(expr: sp.Expr, x) -> float:
    value = expr.xreplace({X: sp.nsimplify(x)})
    return float(value) if value.is_finite else math.inf


@dataclass
class Classified:
    """One construction along one variable: its series, growth rows and closed-form mismatches."""

    series: Series
    judged: dict
    limited: dict
    mismatches: list


@functools.cache
@single_threaded
def classify(entry: Entry, variable: Variable) -> Classified:
    """Build, measure and classify ``entry`` along ``variable`` (cached: variants of a format that
    keep an entry reuse it)."""
    xs = list(variable.grids[entry.encoding])
    s = Series(xs)
    closed_x = {r: e.subs(variable.subs) for r, e in entry.closed_form.items()}
    for x in xs:
        point = variable.point(x)
        closed = {r: _value(e, x) for r, e in closed_x.items()}
        if entry.closed_form_only:
            values, extra = closed, {}
        else:
            resources = entry.build(point).resources()
            values, extra = judged(entry.kind, resources), limited(entry.kind, resources, point.context)
        for r, v in values.items():
            s.judged.setdefault(r, []).append(v)
        for r, v in extra.items():
            s.limited.setdefault(r, []).append(v)
        for r, v in closed.items():
            s.closed.setdefault(r, []).append(v)
    judged_rows = {r: growth_class(xs, s.judged[r], classifiable(closed_x[r]) if r in closed_x else None, X)
                   for r in JUDGED if r in s.judged}
    limited_rows = {r: growth_class(xs, ys) for r, ys in s.limited.items()}
    mismatches = [] if entry.closed_form_only else [
        f"{entry.label}, {variable.name} = {x:g}, {r}: closed form {c:g}, measured {m:g}"
        for r, cs in s.closed.items() for x, c, m in zip(xs, cs, s.judged[r]) if c != m]
    return Classified(s, judged_rows, limited_rows, mismatches)


@functools.cache
def measure_format(fmt: Format) -> Measured:
    """Every construction of ``fmt`` built, measured and classified at every grid point."""
    series, tables, limited_tables, mismatches = {}, {}, {}, []
    for variable in fmt.variables:
        series[variable.name], tables[variable.name], limited_tables[variable.name] = {}, {}, {}
        for entry in fmt.entries:
            c = classify(entry, variable)
            series[variable.name][entry.label] = c.series
            tables[variable.name][entry.label] = c.judged
            limited_tables[variable.name][entry.label] = c.limited
            mismatches += c.mismatches
        longest = max((list(g) for g in variable.grids.values()), key=len)
        limit = [variable.limit(variable.point(x)) for x in longest]
        limited_tables[variable.name][f"information limit: {fmt.limit_text}"] = {"bits": growth_class(longest, limit)}
    return Measured(fmt, series, tables, limited_tables, mismatches)


# ----------------------------------------------------------------------------- evidence
SLUGS = {"|V|": "vocabulary", "N": "pairs", "L": "length", "1/eps": "inverse_error"}


def slug(fmt: Format) -> str:
    return fmt.name.replace(" ", "_").replace("-", "_")


def key(fmt: Format, variable: str, what: str = "growth") -> str:
    """An evidence (and file) name: letters, digits and underscores only."""
    return f"{slug(fmt)}_{what}_in_{SLUGS[variable]}"


def tables_evidence(measured: Measured) -> dict:
    """``table:`` evidence: judged classes and, apart, the classes of what the limit lets grow."""
    out = {}
    for variable in measured.tables:
        out[f"table:{key(measured.format, variable)}"] = measured.tables[variable]
        out[f"table:{key(measured.format, variable, 'not_judged')}"] = measured.limited_tables[variable]
    return out


def figure(name, title, xlabel, ylabel, measured: Measured, variable: str, resource: str, *, part="judged", note="",
           extra=()) -> dict:
    """Figure data of one resource along one variable: one series per construction of the format
    (and ``extra`` series), with the fitted curve of each growth class (dashed)."""
    rows = measured.series[variable]
    table = measured.tables[variable] if part == "judged" else measured.limited_tables[variable]
    series, fits = [], []
    for label, s in rows.items():
        ys = getattr(s, part).get(resource)
        if ys is None:
            continue
        series.append({"label": label, "x": s.xs, "y": ys, "style": ":" if "closed form" in label else "-"})
        cell = table.get(label, {}).get(resource)
        if cell and cell["class"] != "unclear":
            fits.append({"label": f"fit: {cell['class']}", "of": label, "x": s.xs, "y": fitted_curve(s.xs, ys, cell)})
    series += list(extra)
    return {"name": name, "title": title, "xlabel": xlabel, "ylabel": ylabel, "xscale": "log", "yscale": "log",
            "note": note, "series": series, "fits": fits}
