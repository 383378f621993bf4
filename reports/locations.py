"""Where the suite's files are: a source checkout, or an installed package (a wheel in site-packages).

The checks are found through the imported ``checks`` package, wherever it lives, and pytest runs
them with its rootdir at the folder holding ``checks/`` (the checkout, or site-packages): test ids
read ``checks/test_....py::...`` in both. A *source checkout* is that folder with the project's
``pyproject.toml`` in it (an editable install is one too). The report goes to ``reports/out`` in a
checkout, as always; an installed package never writes into site-packages, so there the default
output folder is ``reports-out`` in the current folder.
"""

from __future__ import annotations

from pathlib import Path

import checks

#: the ``checks`` package: the pytest checks of the claims
CHECKS_DIR = Path(checks.__file__).resolve().parent
#: the folder holding ``checks/``, ``claims/``, ``reports/``, ...: the checkout or site-packages
ROOT = CHECKS_DIR.parent
if ROOT != Path(__file__).resolve().parent.parent:
    raise ImportError(f"the 'checks' package was imported from {CHECKS_DIR}, not from beside the 'reports' package in "
                      f"{Path(__file__).resolve().parent.parent}: a 'checks' package in the current folder or on PYTHONPATH "
                      "hides the suite's own; run from another folder")
#: a source checkout (or an editable install of one), not an installed wheel
SOURCE_CHECKOUT = (ROOT / "pyproject.toml").is_file()
#: the default output folder of ``python -m reports`` (``verify`` writes to ``<it>/verify``)
DEFAULT_OUT = ROOT / "reports" / "out" if SOURCE_CHECKOUT else Path("reports-out")


def describe_default_out() -> str:
    """The default output folder as ``--help`` says it."""
    return "reports/out in the checkout" if SOURCE_CHECKOUT else "reports-out in the current folder"
