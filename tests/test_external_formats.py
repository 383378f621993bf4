"""Readers and writers of the field's formats (constructions/tasks/external) and the constructions
on data the suite did not make (examples/external, written by examples/external/make_fixtures.py)."""

from __future__ import annotations

import io
import re
import json
import pathlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from checks.strategies import ar_text_lines, jelassi_copy_lines, jelassi_lookup_lines, zoology_mqar_arrays
from constructions.associative_recall import outer_product
from constructions.copying import fixed_length, ngram
from constructions.errors import ExternalFormatError, ExternalFormatLimitError, SuiteError
from constructions.tasks.copying import repeated_ngram
from constructions.tasks.external import FORMATS, ar_text, jelassi_copy, jelassi_prefix, jelassi_suffix, zoology_mqar
from constructions.tasks.external.common import LIMITS
from constructions.tasks.scattered_recall import (ScatteredARConfig, foreign_value_after_query, generate,
                                                  repeated_cells, values_after_query)
from constructions.transformer import binary_attention, copy_jelassi, mqar_zoology
from constructions.verification import exact_answers, verify

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "external"


def lines_of(write, batches) -> list[str]:
    out = io.StringIO()
    write(batches, out)
    return out.getvalue().splitlines()


# -- round trips ----------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(drawn=zoology_mqar_arrays())
def test_zoology_mqar_round_trip_read_write_read(drawn, tmp_path_factory):
    inputs, labels, vocab = drawn
    for mapping in ("compact", "full"):
        first = list(zoology_mqar.read((inputs, labels), vocab_size=vocab, mapping=mapping, chunk_rows=3))
        again_inputs, again_labels = zoology_mqar.to_arrays(first)
        assert np.array_equal(again_inputs, inputs) and np.array_equal(again_labels, labels)
        path = tmp_path_factory.mktemp("mqar") / "data.npz"
        zoology_mqar.write(first, path)
        second = list(zoology_mqar.read(path, vocab_size=vocab, mapping=mapping, chunk_rows=3))
        for a, b in zip(first, second, strict=True):
            assert a.config == b.config and torch.equal(a.instances.tokens, b.instances.tokens)
            assert torch.equal(a.instances.answers, b.instances.answers) and torch.equal(a.origin, b.origin)


@settings(max_examples=40, deadline=None)
@given(drawn=jelassi_copy_lines())
def test_jelassi_copy_round_trip_read_write_read(drawn):
    lines, alphabet = drawn
    for mapping in ("full", "compact"):
        first = list(jelassi_copy.read(lines, alphabet=alphabet, mapping=mapping, chunk_rows=4))
        written = lines_of(jelassi_copy.write, first)
        assert written == [line.rstrip("*") for line in lines]
        second = list(jelassi_copy.read(written, alphabet=alphabet, mapping=mapping, chunk_rows=4))
        assert [(b.config, b.instances.tokens.tolist()) for b in first] == [(b.config, b.instances.tokens.tolist()) for b in second]


LOOKUP_READERS = {"suffix": jelassi_suffix, "prefix": jelassi_prefix}


@pytest.mark.parametrize("key", LOOKUP_READERS)
def test_jelassi_lookup_round_trip_read_write_read(key):
    reader = LOOKUP_READERS[key]

    @settings(max_examples=40, deadline=None)
    @given(drawn=jelassi_lookup_lines(key=key))
    def round_trip(drawn):
        lines, alphabet, n = drawn
        for mapping in ("full", "compact"):
            first = list(reader.read(lines, alphabet=alphabet, ngram=n, mapping=mapping, chunk_rows=4))
            assert all(b.config.key == key and b.config.ngram == n for b in first)
            written = lines_of(reader.write, first)
            assert written == [line.rstrip("*") for line in lines]
            second = list(reader.read(written, alphabet=alphabet, ngram=n, mapping=mapping, chunk_rows=4))
            assert [(b.config, b.instances.tokens.tolist(), b.origin.tolist()) for b in first] == \
                   [(b.config, b.instances.tokens.tolist(), b.origin.tolist()) for b in second]

    round_trip()


@settings(max_examples=40, deadline=None)
@given(lines=ar_text_lines())
def test_ar_text_round_trip_read_write_read(lines):
    for mapping in ("full", "compact"):
        first = list(ar_text.read(lines, mapping=mapping, chunk_rows=4))
        written = lines_of(ar_text.write, first)
        assert written == lines
        second = list(ar_text.read(written, mapping=mapping, chunk_rows=4))
        assert [(b.config, b.instances.tokens.tolist(), b.instances.answers.tolist()) for b in first] == \
               [(b.config, b.instances.tokens.tolist(), b.instances.answers.tolist()) for b in second]


def test_every_format_docstring_states_the_format_with_an_example():
    for name, module in FORMATS.items():
        doc = module.__doc__
        assert name in doc and "Example" in doc and "Errors" in doc


# -- malformed records: named errors with the line or row ------------------------------------------------


@pytest.mark.parametrize("line, message", [
    ("hello|hello.", "starts with '$'"),
    ("$hello|hello", "no '.' at the end"),
    ("$hello|hello.x", "only '*' may follow"),
    ("$hel|lo|hello.", "one '|'"),
    ("$|.", "empty"),
    ("$heLlo|heLlo.", "character 'L' at column 4"),
    ("$hello|hellp.", "differs from the string at its character 5"),
])
def test_jelassi_copy_malformed_line_is_named_with_its_line_number(line, message):
    with pytest.raises(ExternalFormatError, match=re.escape(message)) as caught:
        list(jelassi_copy.read(["$ab|ab.", "", line]))
    assert caught.value.where == "line 3"


@pytest.mark.parametrize("key, line, message", [
    ("suffix", "abcd|abcd.", "starts with '$'"),
    ("suffix", "$abcd|abcd", "no '.' at the end"),
    ("suffix", "$abcd|abcd.x", "only '*' may follow"),
    ("suffix", "$ab|cd|b.", "has 1 '|', got 2"),
    ("suffix", "$|abc.", "string is empty"),
    ("suffix", "$abcd|ab.", "fewer than 3 letters"),
    ("suffix", "$abCd|abcd.", "character 'C' at column 4"),
    ("suffix", "$abcd|acd.", "'acd' does not occur"),
    ("suffix", "$abcd|bcdx.", "leaving 0 letters after it, fewer than the answer's 1"),
    ("suffix", "$abcabd|abcd.", "answer 'd' differs at its character 1 from 'a'"),  # the first occurrence counts
    ("prefix", "$abc|abcd.", "has 2 '|', got 1"),
    ("prefix", "$|abcd|d.", "n-gram before the first '|' is empty"),
    ("prefix", "$ab|abcd|c.", "'ab' has 2 letters, not n = 3"),
    ("prefix", "$abc|abcd|e.", "answer 'e' differs at its character 1 from 'd'"),
])
def test_jelassi_lookup_malformed_line_is_named_with_its_line_number(key, line, message):
    good = {"suffix": "$abcd|abcd.", "prefix": "$abc|abcd|d."}[key]
    with pytest.raises(ExternalFormatError, match=re.escape(message)) as caught:
        list(LOOKUP_READERS[key].read([good, "", line], ngram=3))
    assert caught.value.where == "line 3"


@pytest.mark.parametrize("line, message", [
    ("t4a2c4o1k2c", "2N + 2 characters"),
    ("t4", "2N + 2 characters"),
    ("t4aac4", "'a' at column 4: a digit"),
    ("t4a2t5a2", "key 't' is written twice"),
    ("t4a2c4", "query key 'c' is not among"),
    ("t4a2t5", "answer '5' is not '4'"),
])
def test_ar_text_malformed_line_is_named_with_its_line_number(line, message):
    with pytest.raises(ExternalFormatError, match=re.escape(message)) as caught:
        list(ar_text.read(["t4t4", line]))
    assert caught.value.where == "line 2"


def mqar_example():
    inputs = np.array([[2, 8, 4, 7, 0, 0, 4, 0, 0, 0, 0, 0, 2, 0], [2, 8, 4, 7, 9, 3, 4, 1, 4, 6, 0, 5, 2, 11]])
    labels = np.full_like(inputs, -100)
    labels[:, 6], labels[:, 12] = 7, 8
    return inputs, labels


@pytest.mark.parametrize("change, message", [
    (lambda i, l: i.__setitem__((1, 5), 12), "input id 12 at position 5 is outside"),
    (lambda i, l: l.__setitem__((1, slice(3, 7, 3)), [7, -100]), "a label at position 3, inside the pairs region"),
    (lambda i, l: l.__setitem__((1, 4), 7), "3 labels, the first row has 2"),
    (lambda i, l: i.__setitem__((1, 2), 7), "position 2 of the pairs holds 7, not a key"),
    (lambda i, l: i.__setitem__((1, 3), 3), "position 3 of the pairs holds 3, not a value"),
    (lambda i, l: i.__setitem__((1, 2), 2), "key 2 is written twice"),
    (lambda i, l: i.__setitem__((1, 6), 5), "position 6 holds 5, which is no key"),
    (lambda i, l: l.__setitem__((1, 6), 8), "label at position 6 is 8, but key 4 is paired with 7"),
    (lambda i, l: l.__setitem__((1, 7), -5), "label -5 at position 7"),
])
def test_zoology_mqar_malformed_row_is_named_with_its_row(change, message):
    inputs, labels = mqar_example()
    change(inputs, labels)
    with pytest.raises(ExternalFormatError, match=re.escape(message)) as caught:
        list(zoology_mqar.read((inputs, labels), vocab_size=12))
    assert caught.value.where == "row 1"


def test_zoology_mqar_files_refused_by_name(tmp_path):
    inputs, labels = mqar_example()
    bad = tmp_path / "data.jsonl"
    bad.write_text(json.dumps({"inputs": inputs[0].tolist(), "labels": labels[0].tolist()}) + "\n{not json\n")
    with pytest.raises(ExternalFormatError, match="not JSON") as caught:
        list(zoology_mqar.read(bad, vocab_size=12))
    assert caught.value.where == "line 2"
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, inputs=np.array([[1, "x"]], dtype=object), labels=labels)
    with pytest.raises(ExternalFormatError, match="must hold integers"):
        list(zoology_mqar.read(pickled, vocab_size=12))
    with pytest.raises(ExternalFormatError, match="differ in shape"):
        list(zoology_mqar.read((inputs, labels[:, :5]), vocab_size=12))
    with pytest.raises(ExternalFormatError, match="must hold integers"):
        list(zoology_mqar.read((inputs.astype(float), labels), vocab_size=12))
    with pytest.raises(ExternalFormatError, match="ends in .npz"):
        list(zoology_mqar.read(tmp_path / "data.csv", vocab_size=12))
    truncated = tmp_path / "cut.npz"
    zoology_mqar.write(list(zoology_mqar.read((inputs, labels), vocab_size=12)), truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ExternalFormatError):
        list(zoology_mqar.read(truncated, vocab_size=12))


def test_sizes_over_the_limits_are_refused_before_reading_them(tmp_path):
    with pytest.raises(ExternalFormatLimitError, match="sequence_length"):
        list(zoology_mqar.read((np.zeros((1, LIMITS["sequence_length"] + 2), dtype=np.int64),) * 2))
    long_line = tmp_path / "long.txt"
    long_line.write_text("$" + "a" * (LIMITS["line_bytes"] + 10) + "|a.\n")
    with pytest.raises(ExternalFormatLimitError, match="line_bytes") as caught:
        list(jelassi_copy.read(long_line))
    assert caught.value.where == "line 1"
    with pytest.raises(ExternalFormatError, match="chunk_rows"):
        list(ar_text.read(["a1a1"], chunk_rows=0))
    assert issubclass(ExternalFormatLimitError, ExternalFormatError) and issubclass(ExternalFormatError, SuiteError)


def test_readers_stream_in_chunks_of_at_most_chunk_rows():
    batches = list(zoology_mqar.read(FIXTURES / "zoology_mqar_v80.jsonl", vocab_size=80, chunk_rows=5))
    assert max(len(b) for b in batches) <= 5 and sum(len(b) for b in batches) == 48
    assert [int(o) for b in batches for o in b.origin] == list(range(1, 49))  # JSON lines, 1-based
    lines = list(jelassi_copy.read(FIXTURES / "jelassi_copy.txt", chunk_rows=7))
    assert max(len(b) for b in lines) <= 7 and sorted(int(o) for b in lines for o in b.origin) == list(range(1, 37))


# -- the vocabulary map ------------------------------------------------------------------------------------


def test_compact_map_pays_for_the_ids_used_and_answers_as_the_full_vocabulary_does():
    path = FIXTURES / "zoology_mqar_v8192.npz"
    (compact,) = zoology_mqar.read(path)
    assert compact.config.num_keys <= 8 + 32 and compact.mapping.summary()["per_instance"]
    (full,) = zoology_mqar.read(path, mapping="full")
    assert (full.config.num_keys, full.config.num_values) == (4095, 4096)
    assert torch.equal(full.mapping.to_external(full.instances.tokens), compact.mapping.to_external(compact.instances.tokens))
    # at a vocabulary of 80 both maps are cheap to run: the same answers, right and wrong, everywhere
    small = FIXTURES / "zoology_mqar_v80.jsonl"
    for build in (lambda c: outer_product.build(c, clip_counts=True), mqar_zoology.build, binary_attention.build):
        results = []
        for mapping in ("compact", "full"):
            batches = list(zoology_mqar.read(small, vocab_size=80, mapping=mapping))
            ext = []
            for b in batches:
                c = build(b.config)
                got = c.answer_at(b.instances.tokens, b.instances.query_positions)
                ext.append(torch.where(got >= 0, b.mapping.to_external(got.clamp(min=0)), got))
            results.append(torch.cat(ext))
        assert torch.equal(*results)


# -- constructions on data the suite did not make ---------------------------------------------------------


def mqar_fixture(name: str, vocab: int):
    batches = list(zoology_mqar.read(FIXTURES / name, vocab_size=vocab))
    assert len(batches) == 1
    return batches[0]


@pytest.mark.parametrize("name, vocab", [("zoology_mqar_v8192.npz", 8192), ("zoology_mqar_v80.jsonl", 80),
                                         ("zoology_mqar_zeros.json", 8192)])
def test_recall_constructions_on_zoology_files_fail_exactly_where_stated(name, vocab):
    b = mqar_fixture(name, vocab)
    cfg, tokens, at = b.config, b.instances.tokens, b.instances.query_positions
    foreign = foreign_value_after_query(cfg, tokens, at)
    stated = {
        "outer-product, clipped": (outer_product.build(cfg, clip_counts=True), foreign),
        "outer-product": (outer_product.build(cfg), foreign | repeated_cells(cfg, tokens, at)),
        "zoology attention (linear)": (mqar_zoology.build(cfg), values_after_query(cfg, tokens, at) != 1),
        "binary attention": (binary_attention.build(cfg), torch.zeros_like(foreign)),
    }
    for name_, (construction, misses) in stated.items():
        exact = exact_answers(construction, tokens, positions=at)
        assert torch.equal(~exact, misses), name_
    if name == "zoology_mqar_v80.jsonl":  # the small vocabulary makes fillers repeat keys and pairs
        assert int(foreign.sum()) > 0 and int(repeated_cells(cfg, tokens, at).sum()) > int(foreign.sum())
    if name == "zoology_mqar_zeros.json":  # no random fillers: every construction is exact
        assert not bool(foreign.any()) and verify(outer_product.build(cfg), tokens, positions=at).ok


def test_clipping_repairs_repeated_passes_and_repeated_pairs():
    cfg = ScatteredARConfig(num_keys=12, num_values=12, num_pairs=6, num_queries=6, length=40, num_passes=2)
    b = generate(cfg, 200, 3)
    foreign = foreign_value_after_query(cfg, b.tokens, b.query_positions)
    clipped = exact_answers(outer_product.build(cfg, clip_counts=True), b.tokens, positions=b.query_positions)
    assert torch.equal(~clipped, foreign)
    unclipped = exact_answers(outer_product.build(cfg), b.tokens, positions=b.query_positions)
    assert not bool(unclipped.any())  # every pair written twice: a count of 2 in every answer


def test_recall_constructions_exact_on_the_ar_text_file():
    for b in ar_text.read(FIXTURES / "ar_text.txt"):
        for build in (outer_product.build, lambda c: outer_product.build(c, clip_counts=True), mqar_zoology.build,
                      binary_attention.build):
            assert verify(build(b.config), b.instances.tokens).ok
        assert torch.equal(b.instances.answers, outer_product.build(b.config).answer(b.instances.tokens))


def test_copiers_on_the_jelassi_file_fail_only_on_repeated_ngrams():
    """n = 2 on the compact map (each line's letters renumbered: the n-gram copier's memory has
    D^n (D + 1) cells, 26^3 x 27 = 474552 for the full alphabet at n = 3)."""
    repeated_total, failed_total = 0, 0
    for b in jelassi_copy.read(FIXTURES / "jelassi_copy.txt", mapping="compact"):
        cfg, inst = b.config, b.instances
        assert verify(fixed_length.build(cfg), inst.tokens).ok
        repeated = repeated_ngram(inst.strings, 2, cfg.alphabet)
        for construction in (ngram.build(cfg, 2), copy_jelassi.build(cfg, 2)):
            wrong = ~exact_answers(construction, inst.tokens).all(-1)
            assert not bool((wrong & ~repeated).any()), construction.name
            failed_total += int(wrong.sum())
        repeated_total += int(repeated.sum())
    assert repeated_total > 0 and failed_total > 0  # the four-letter lines repeat 2-grams, and copiers miss some


@pytest.mark.parametrize("key", LOOKUP_READERS)
def test_lookup_construction_on_the_jelassi_files_is_exact_exactly_where_unambiguous(key):
    """n = 3 on the compact map (each line's letters renumbered; the memory has (D + 2)^3 (D + 1) cells,
    9000 at the 8 letters a line of 8 uses; 26^3 x 27 would be 474552 on the full map); the four-letter lines repeat 3-grams."""
    from constructions.lookup import ngram_lookup
    from constructions.tasks.ngram_lookup import continuation_ambiguous

    reader, ambiguous_total = LOOKUP_READERS[key], 0
    for b in reader.read(FIXTURES / f"jelassi_{key}.txt", mapping="compact"):
        cfg, inst = b.config, b.instances
        assert (cfg.key, cfg.ngram) == (key, 3)
        failed = ~exact_answers(ngram_lookup.build(cfg), inst.tokens).all(-1)
        ambiguous = continuation_ambiguous(cfg, inst.strings, inst.grams)
        assert torch.equal(failed, ambiguous), [b.where(i) for i in (failed != ambiguous).nonzero().flatten().tolist()]
        assert bool(repeated_ngram(inst.strings[ambiguous], 3, cfg.alphabet).all())
        ambiguous_total += int(ambiguous.sum())
    assert ambiguous_total > 0  # the file exercises both sides of the condition


def test_lookup_transformer_answers_alike_on_the_full_and_the_compact_map():
    """The compact map is a bijection on the letters a line uses: the Transformer (cheap at D = 26)
    gives the same answers, right and wrong, in the file's letters."""
    from constructions.transformer import lookup_suffix

    answers = []
    for mapping in ("full", "compact"):
        ext = {}
        for b in jelassi_suffix.read(FIXTURES / "jelassi_suffix.txt", mapping=mapping):
            got = lookup_suffix.build(b.config).answer(b.instances.tokens)
            for i in range(len(b)):
                mapped = b.mapping.select([i]).to_external(got[i : i + 1].clamp(min=0))[0]
                ext[int(b.origin[i])] = torch.where(got[i] >= 0, mapped, got[i]).tolist()  # -1: no token
        answers.append(ext)
    assert answers[0] == answers[1] and len(answers[0]) == 36


@pytest.mark.parametrize("K, V", [(3, 4), (5, 2), (16, 16)])
def test_clipped_outer_product_resources_equal_its_closed_form(K, V):
    import sympy as sp

    from constructions.resources import measure
    from constructions.tasks.associative_recall import ARConfig

    measured = measure(outer_product.build(ARConfig(K, V, 2, 1), clip_counts=True).network).summary()
    symbols = {sp.Symbol("K", positive=True, integer=True): K, sp.Symbol("V", positive=True, integer=True): V}
    for name, form in outer_product.closed_form(clip_counts=True).items():
        if name != "window":
            assert measured[name] == form.subs(symbols), name
