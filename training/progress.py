"""Progress lines of trained models, from whichever process trains them.

A report run (:func:`reports.runner.run_checks`) names a file in :data:`PROGRESS_ENV`; a training
loop in any process (an xdist worker or the report's own) appends one line per model trained or
loaded from the disk cache (:func:`say`), and the report's collector follows the file and prints the
lines as they come (:meth:`reports.collect.Collector.follow`). Without the variable :func:`say` does
nothing: a plain pytest run stays quiet. Lines are appended whole (one ``write`` of at most a few
hundred bytes in append mode), so the lines of two workers do not interleave within a line.
"""

from __future__ import annotations

import os

#: environment variable naming the progress file (unset or empty: no progress lines)
PROGRESS_ENV = "SSM_SUITE_PROGRESS"


def say(line: str) -> None:
    """Append ``line`` to the progress file named by :data:`PROGRESS_ENV`, if any."""
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(" ".join(line.split()) + "\n")
