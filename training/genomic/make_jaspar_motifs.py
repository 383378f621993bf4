"""Developer script (run once, not by the suite): extract the shipped JASPAR motif matrices.

Writes :data:`training.genomic.motifs.MOTIF_FILE` (``jaspar_motifs.json`` beside this script): the
position frequency matrices (counts, rows ``A, C, G, T``) of a few well-known human/mouse
transcription factors of distinct lengths 6-12 from the JASPAR CORE collection, with their matrix
ids, names, release and the database's licence (CC BY 4.0) and citation. The suite reads only that
JSON file (:func:`training.genomic.motifs.load_motifs`); it never imports ``pyjaspar``, which ships
the whole database (a 57 MB wheel, plus biopython) for these few matrices.

Run it in a throwaway virtual environment::

    python3 -m venv /tmp/jaspar-venv
    /tmp/jaspar-venv/bin/pip install pyjaspar==4.0.0 biopython
    /tmp/jaspar-venv/bin/python training/genomic/make_jaspar_motifs.py

It is deterministic (fixed release and matrix ids) and refuses a matrix whose id, name or length
differs from what :data:`CHOSEN` expects, so a rerun with another ``pyjaspar`` either reproduces the
file or says why not.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

#: JASPAR 2024 (the release whose licence and citation are stated below)
RELEASE = "JASPAR2024"

#: (matrix id, TF name, length): one matrix per length 6..12, each with one count per column total
#: (site-count matrices; HT-SELEX matrices with unequal column sums were passed over)
CHOSEN: tuple[tuple[str, str, int], ...] = (
    ("MA0100.4", "MYB", 6),     # CAACTG
    ("MA0108.3", "TBP", 7),     # TATAAAA, the TATA box
    ("MA0018.5", "CREB1", 8),   # TGATGTCA, the cAMP response element
    ("MA0079.5", "SP1", 9),     # GGGGCGGGG, the GC box
    ("MA0102.5", "CEBPA", 10),  # ATTGCACAAT
    ("MA0050.4", "Irf1", 11),   # TGAAACTGAAA, the interferon-stimulated response element
    ("MA0506.3", "Nrf1", 12),   # CTGCGCCTGCGC
)

LICENCE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
ATTRIBUTION = ("JASPAR 2024 CORE collection (https://jaspar.elixir.no), Rauluseviciute I. et al., "
               "'JASPAR 2024: 20th anniversary of the open-access database of transcription factor binding "
               "profiles', Nucleic Acids Research 52(D1):D174-D182 (2024), doi:10.1093/nar/gkad1059; "
               "matrices unchanged (counts as published), extracted with pyjaspar 4.0.0")


def extract() -> dict:
    from pyjaspar import jaspardb  # the developer's throwaway venv only

    db = jaspardb(release=RELEASE)
    motifs = []
    for matrix_id, name, length in CHOSEN:
        m = db.fetch_motif_by_id(matrix_id)
        if m is None or m.name != name or m.length != length:
            raise SystemExit(f"{RELEASE} {matrix_id}: expected {name} of length {length}, got "
                             f"{getattr(m, 'name', None)} of length {getattr(m, 'length', None)}")
        motifs.append({
            "matrix_id": m.matrix_id,
            "name": m.name,
            "collection": m.collection,
            "species": [s for s in (m.species or []) if s],
            "data_type": m.data_type,
            "consensus": str(m.consensus),
            "counts": {base: [float(c) for c in m.counts[base]] for base in "ACGT"},
        })
    return {"release": RELEASE, "licence": LICENCE, "attribution": ATTRIBUTION,
            "note": "position frequency matrices (counts per column, rows A, C, G, T) for the synthetic genomic "
                    "task of training/genomic/ (planted sites sampled from these matrices in a synthetic background)",
            "motifs": motifs}


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("jaspar_motifs.json")
    text = json.dumps(extract(), indent=1)
    text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)  # lists on one line
    out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(CHOSEN)} matrices of {RELEASE} to {out}")


if __name__ == "__main__":
    main(sys.argv)
