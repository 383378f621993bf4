"""Writing report files: the output folder is checked before a run; the report set is replaced as one unit.

**The report set** is ``report.html``, ``report.md``, ``claims.json`` and the figures
``figures/<name>.png|svg``. A run builds its new set in a staging folder beside the old one,
``<out>/.ssm-report-staging-XXXXXXXX/`` (same file system, so every move is a ``rename``), and
:meth:`ReportSet.commit` swaps it in:

1. every staged file is fsynced and hashed, and the swap is planned (see *ours* below);
2. the *journal* ``<out>/.ssm-report-swap.json`` is written atomically (temporary file, fsync,
   rename). This is the commit point: before it the old set is untouched, after it the new set is the
   current one, and whoever finds the journal finishes the swap (roll forward, :func:`recover`);
3. each staged file is renamed over its target, figures first and ``report.html`` last (so the page
   people open is new only when everything it links to is), then the old set's files the new one
   lacks are removed, then the *manifest* ``<out>/.ssm-report-manifest.json`` (every file of the set
   with its SHA-256) is replaced, and the journal is deleted;
4. the (now empty) staging folder is removed.

Between step 2 and the end of step 3 (about one ``rename`` per file: milliseconds) a reader opening
several files may get some old and some new ones; every single file is always whole, old or new.
A reader that needs one consistent set checks that no journal exists and that the files match the
manifest (:func:`check_report_set`). Ctrl-C and SIGTERM are held back during steps 2-3; a SIGKILL
or a power cut there leaves the journal, and the next run into the folder completes the swap before
it does anything else, and says so. A run that stops before step 2 (interrupted, failed, nothing
collected) leaves the old set as it was; its staging folder is removed at once or, after a SIGKILL, by
the next run.

**Ours.** The suite deletes or overwrites only bytes it wrote: a file listed in the previous manifest
whose content still has the recorded hash. A file at a name the new set uses that is not ours (no
manifest, e.g. written by an older version; changed since; a link; a folder) is moved aside to
``<stem>.kept-<UTC time><suffix>`` beside it, never deleted; an old file of ours that was changed
since is left in place. Everything else in the folder (the user's files, ``verify/``) is never touched.
Every operation goes through directory file descriptors and ``O_NOFOLLOW``: no link is followed out of
the folder; a ``figures`` that is a link or not a folder is an error before the checks run
(:func:`check_report_names`), and so are links or folders at the report files' own names. (Directory
descriptors make this POSIX code: Linux, macOS.)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path


class OutputError(OSError):
    """The output directory cannot be created or written."""


def prepare_directory(path: Path) -> Path:
    """Create ``path`` if needed and prove it writable, before any check runs."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-", delete=True):
            pass
    except OSError as err:
        raise OutputError(f"cannot write reports to {str(path)!r}: {err.strerror or err}") from None
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; reports are for sharing
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------- the report set's names
REPORT_FILES = ("claims.json", "report.md", "report.html")  # in install order: report.html last
FIGURES = "figures"
FIGURE_SUFFIXES = (".png", ".svg")
MANIFEST_NAME = ".ssm-report-manifest.json"
JOURNAL_NAME = ".ssm-report-swap.json"
STAGING_PREFIX = ".ssm-report-staging-"
OWN_PREFIX = ".ssm-report-"  # every hidden name the suite makes in the folder starts so
MANIFEST_FORMAT = "ssm-report-manifest/1"
JOURNAL_FORMAT = "ssm-report-swap/1"

#: test hooks (fault injection for the interruption tests): SIGKILL this process at the write phase's step
#: with this index or name (``install report.md``), or sleep this many seconds at every step
KILL_AT_ENV = "SSM_REPORT_TEST_KILL_AT"
STEP_DELAY_ENV = "SSM_REPORT_TEST_STEP_DELAY"

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def is_plain_name(name: str) -> bool:
    """A file name of one component, not hidden: what a figure may be called."""
    return bool(name) and not name.startswith(".") and not any(c in name for c in "/\\\0")


def is_set_path(path: object) -> bool:
    """Whether ``path`` (relative, ``/``-separated) can be a file of the report set."""
    if not isinstance(path, str):
        return False
    if path in REPORT_FILES:
        return True
    folder, _, name = path.partition("/")
    return folder == FIGURES and is_plain_name(name) and name.endswith(FIGURE_SUFFIXES)


def _install_order(paths) -> list[str]:
    return sorted(p for p in paths if p not in REPORT_FILES) + [p for p in REPORT_FILES if p in paths]


def _describe_entry(path: Path) -> str | None:
    """Why ``path`` cannot be one of the report's own names, or None."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return f"is a symlink (to {os.readlink(path)!r})"
    if path.name == FIGURES:
        return None if stat.S_ISDIR(st.st_mode) else "is not a folder"
    return None if stat.S_ISREG(st.st_mode) else "is not a regular file"


def check_report_names(out: Path) -> None:
    """Refuse, before the checks run, an output folder whose report names hold links or folders: the
    report never writes through a link (``figures`` a link to elsewhere would put the figures, and the
    removal of old ones, outside the folder) and never guesses what a link or folder there is for."""
    out = Path(out)
    for name in (FIGURES, *REPORT_FILES, MANIFEST_NAME, JOURNAL_NAME):
        problem = _describe_entry(out / name)
        if problem:
            raise OutputError(f"{str(out / name)!r} {problem}: the report keeps its files there itself and never follows "
                              "a link out of the output folder; move it away or choose another --out")


# ----------------------------------------------------------------------------- steps (test hooks)
_steps_taken = 0


def _step(name: str) -> None:
    """One step of the write phase: where the interruption tests SIGKILL this process or make it pause."""
    global _steps_taken
    index, _steps_taken = _steps_taken, _steps_taken + 1
    kill_at = os.environ.get(KILL_AT_ENV)
    if kill_at is not None and kill_at in (str(index), name):
        os.kill(os.getpid(), signal.SIGKILL)
    delay = os.environ.get(STEP_DELAY_ENV)
    if delay:
        time.sleep(float(delay))


@contextmanager
def _signals_held():
    """Hold Ctrl-C, SIGTERM and SIGHUP back while the set is swapped; they act right after."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# ----------------------------------------------------------------------------- files through directory descriptors
def _sha256_at(dir_fd: int | None, name: str) -> str | None:
    """SHA-256 of the regular file ``name`` in ``dir_fd``; None if absent, a link or not a regular file."""
    if dir_fd is None:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0), dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)


def _lexists_at(dir_fd: int | None, name: str) -> bool:
    if dir_fd is None:
        return False
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _open_dir(name: str | Path, dir_fd: int | None = None) -> int:
    return os.open(name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW, dir_fd=dir_fd)


class _Folder:
    """The output folder, its ``figures`` and a staging folder, open as directory descriptors: every
    rename, removal and hash below is relative to them and follows no link."""

    def __init__(self, out: Path, staging: str | None, create_figures: bool):
        self.path = Path(out)
        self.fds: list[int] = []
        self.staging = self.staging_figures = None
        try:
            self.out = self._keep(os.open(self.path, os.O_RDONLY | _O_DIRECTORY))
            self.figures = self._figures(self.out, self.path / FIGURES, create_figures)
            if staging is not None:
                try:
                    self.staging = self._keep(_open_dir(staging, self.out))
                except FileNotFoundError:
                    pass
                else:
                    self.staging_figures = self._figures(self.staging, self.path / staging / FIGURES, False)
        except BaseException:
            self.close()
            raise

    def _keep(self, fd: int) -> int:
        self.fds.append(fd)
        return fd

    def _figures(self, parent: int, shown: Path, create: bool) -> int | None:
        try:
            return self._keep(_open_dir(FIGURES, parent))
        except FileNotFoundError:
            if not create:
                return None
            os.mkdir(FIGURES, 0o777, dir_fd=parent)
            return self._keep(_open_dir(FIGURES, parent))
        except OSError:
            raise OutputError(f"{str(shown)!r} {_describe_entry(shown) or 'cannot be opened'}: the report never "
                              "follows a link out of the output folder; move it away or choose another --out") from None

    def target(self, path: str) -> tuple[int | None, str]:
        folder, _, name = path.rpartition("/")
        return (self.figures if folder else self.out), name

    def staged(self, path: str) -> tuple[int | None, str]:
        folder, _, name = path.rpartition("/")
        return (self.staging_figures if folder else self.staging), name

    def same_file_system(self) -> bool:
        devices = {os.fstat(fd).st_dev for fd in self.fds}
        return len(devices) == 1

    def fsync(self) -> None:
        for fd in (self.figures, self.out):
            if fd is not None:
                os.fsync(fd)

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _aside_name(dir_fd: int, name: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    stem, suffix = (stem, dot + suffix) if stem else (name, "")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 10_000):
        candidate = f"{stem}.kept-{stamp}{'' if n == 1 else f'-{n}'}{suffix}"
        if not _lexists_at(dir_fd, candidate):
            return candidate
    raise OutputError(f"no free name to keep {name!r} aside")


def _not_ours(dir_fd: int, name: str, recorded: str | None) -> str | None:
    """Why the entry ``name`` is not a file this suite wrote (None: it is ours, unchanged, or absent)."""
    if dir_fd is None:
        return None
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return "it is a symlink"
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    if recorded is None:
        return "this suite has no record of writing it"
    if _sha256_at(dir_fd, name) != recorded:
        return "it changed since this suite wrote it"
    return None


def _plan(folder: _Folder, journal: dict) -> dict:
    """What the swap does to each name: install (``done`` when already installed: its staged copy is gone),
    keep a file that is not ours aside first, remove an old file of ours, keep an old file that changed."""
    previous, install, remove = journal["previous"], {}, {}
    for path in journal["install"]:
        sfd, name = folder.staged(path)
        dfd, _ = folder.target(path)
        if not _lexists_at(sfd, name):
            install[path] = ("done",)
        elif (why := _not_ours(dfd, name, previous.get(path))) is not None:
            install[path] = ("aside", _aside_name(dfd, name), why)
        else:
            install[path] = ("install",)
    for path in journal["remove"]:
        dfd, name = folder.target(path)
        if not _lexists_at(dfd, name):
            continue
        why = _not_ours(dfd, name, previous.get(path))
        remove[path] = ("remove",) if why is None else ("keep", why)
    return {"install": install, "remove": remove}


def _swap(folder: _Folder, journal: dict, plan: dict, notes: list[str]) -> None:
    """Steps 3 of the module docstring: renames in install order, removals, manifest, journal deleted."""
    for path in journal["install"]:
        action = plan["install"][path]
        if action[0] == "done":
            continue
        dfd, name = folder.target(path)
        sfd, _ = folder.staged(path)
        if action[0] == "aside":
            _step(f"keep {path}")
            os.rename(name, action[1], src_dir_fd=dfd, dst_dir_fd=dfd)
            notes.append(f"kept {str(folder.path / path)!r} as {action[1]!r} ({action[2]})")
        _step(f"install {path}")
        os.replace(name, name, src_dir_fd=sfd, dst_dir_fd=dfd)
    for path, action in plan["remove"].items():
        dfd, name = folder.target(path)
        if action[0] == "remove":
            _step(f"remove {path}")
            try:
                os.unlink(name, dir_fd=dfd)
            except FileNotFoundError:
                pass
        else:
            notes.append(f"left {str(folder.path / path)!r} in place, no longer part of the report ({action[1]})")
    folder.fsync()
    _step("manifest")
    write_atomic(folder.path / MANIFEST_NAME, json.dumps(journal["manifest"], indent=1) + "\n")
    _step("journal removed")
    os.unlink(JOURNAL_NAME, dir_fd=folder.out)
    os.fsync(folder.out)


# ----------------------------------------------------------------------------- manifest
def read_manifest(out: Path) -> tuple[dict[str, str], str | None]:
    """The previous set's files (path -> SHA-256) and, when the manifest cannot be used, why (then
    nothing counts as ours: nothing is deleted, and files in the new set's way are kept aside)."""
    try:
        fd = os.open(Path(out) / MANIFEST_NAME, os.O_RDONLY | _O_NOFOLLOW)
    except FileNotFoundError:
        return {}, None
    except OSError as err:
        return {}, f"the manifest cannot be read ({err.strerror or err})"
    with os.fdopen(fd, "rb") as f:
        raw = f.read()
    try:
        document = json.loads(raw.decode("utf-8"))
        files = document["files"]
        assert document["format"] == MANIFEST_FORMAT and isinstance(files, dict)
        return {p: e["sha256"] for p, e in files.items() if is_set_path(p) and isinstance(e.get("sha256"), str)}, None
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, AssertionError):
        return {}, "the manifest is not a valid ssm-report manifest"


def check_report_set(out: Path) -> list[str]:
    """What keeps ``out`` from holding one whole report set (empty: it holds one): a swap in progress
    or interrupted (the journal exists), or a file that does not match the manifest."""
    out = Path(out)
    if (out / JOURNAL_NAME).exists():
        return [f"a swap of the report set is in progress or was interrupted ({JOURNAL_NAME} exists)"]
    files, problem = read_manifest(out)
    if problem or not (out / MANIFEST_NAME).exists():
        return [problem or "no manifest: no report set was written here"]
    with _Folder(out, None, False) as folder:
        return [f"{path} does not match the manifest" for path, sha in files.items() if _sha256_at(*folder.target(path)) != sha]


# ----------------------------------------------------------------------------- writing a set, recovering
class ReportSet:
    """A new report set, built in a staging folder beside the current one and swapped in by :meth:`commit`.

    Use as a context manager: leaving it without a commit (an exception, Ctrl-C) removes the staging
    folder and leaves the current set as it was.
    """

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path: Path | None = None
        self.journal_written = False
        self.notes: list[str] = []

    def __enter__(self) -> "ReportSet":
        self.path = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.out))
        return self

    def __exit__(self, *exc) -> None:
        if not self.journal_written:  # after the journal, the staged files belong to the swap (roll forward)
            _remove_tree(self.path)

    def write_text(self, name: str, text: str) -> None:
        (self.path / name).write_text(text, encoding="utf-8")

    def _staged_files(self) -> dict[str, dict]:
        files = {}
        for root, dirs, names in os.walk(self.path):
            for name in names:
                full = Path(root) / name
                path = full.relative_to(self.path).as_posix()
                if not is_set_path(path):
                    raise OutputError(f"the staged report holds {path!r}, which is not a report file")
                _step(f"stage {path}")
                with open(full, "rb") as f:
                    data = f.read()
                    os.fsync(f.fileno())
                files[path] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for d in dirs:
                fd = os.open(Path(root) / d, os.O_RDONLY | _O_DIRECTORY)
                os.fsync(fd)
                os.close(fd)
        return files

    def commit(self, run: dict) -> list[str]:
        """Swap the staged set in (module docstring, steps 1-4); returns notes for the user."""
        files = self._staged_files()
        previous, problem = read_manifest(self.out)
        if problem:
            self.notes.append(f"{problem}: no earlier file counts as the suite's own")
        manifest = {"format": MANIFEST_FORMAT, "about": "the files of the report set that python -m reports wrote here "
                    "(it deletes or overwrites only these, and only while they keep these hashes)",
                    "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "run": run,
                    "files": {p: files[p] for p in sorted(files)}}
        journal = {"format": JOURNAL_FORMAT, "staging": self.path.name, "install": _install_order(files),
                   "previous": previous, "remove": sorted(p for p in previous if p not in files), "manifest": manifest}
        create = any(p.startswith(FIGURES + "/") for p in files)
        with _Folder(self.out, self.path.name, create) as folder:
            if not folder.same_file_system():
                raise OutputError(f"{str(self.out)!r} and its figures folder are on different file systems: "
                                  "the report set cannot be swapped in by renames")
            plan = _plan(folder, journal)
            with _signals_held():
                _step("journal")
                write_atomic(self.out / JOURNAL_NAME, json.dumps(journal) + "\n")
                os.fsync(folder.out)
                self.journal_written = True
                _swap(folder, journal, plan, self.notes)
        _step("staging removed")
        _remove_tree(self.path)
        return self.notes


def _remove_tree(path: Path | None) -> None:
    """Remove a staging folder of ours (a link there is removed itself, never followed)."""
    if path is None:
        return
    try:
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path)
    except OSError:
        pass


def _load_journal(path: Path) -> dict:
    fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        journal = json.loads(f.read().decode("utf-8"))
    paths = journal["install"] + journal["remove"] + list(journal["previous"])
    if (journal.get("format") != JOURNAL_FORMAT or not all(is_set_path(p) for p in paths)
            or not str(journal["staging"]).startswith(STAGING_PREFIX) or "/" in journal["staging"]
            or not isinstance(journal["manifest"], dict)):
        raise ValueError("unexpected content")
    return journal


def recover(out: Path) -> list[str]:
    """Run under the folder's lock before anything else: complete a swap a killed run left half done
    (roll forward from the journal), and remove what interrupted runs left (staging folders,
    temporary files of ours). Returns notes for the user."""
    out = Path(out)
    notes: list[str] = []
    journal_path = out / JOURNAL_NAME
    if os.path.lexists(journal_path):
        try:
            journal = _load_journal(journal_path)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
            raise OutputError(f"{str(journal_path)!r} records an interrupted swap of the report set but cannot be read "
                              f"({err}); nothing was changed: move it away to start afresh") from None
        create = any(p.startswith(FIGURES + "/") for p in journal["install"])
        swap_notes: list[str] = []
        try:
            with _Folder(out, journal["staging"], create) as folder:
                _swap(folder, journal, _plan(folder, journal), swap_notes)
                missing = [p for p, entry in journal["manifest"]["files"].items()
                           if _sha256_at(*folder.target(p)) != entry["sha256"]]
        except OSError as err:
            raise OutputError(f"cannot complete the swap of the report set that {str(journal_path)!r} records: "
                              f"{err.strerror or err}{f' ({err.filename!r})' if err.filename else ''}") from None
        started = journal["manifest"].get("run", {}).get("started_at", "?")
        notes.append(f"completed the swap of the report set that a run started {started} was interrupted in: "
                     f"{str(out)!r} now holds that run's report whole")
        notes += swap_notes
        if missing:
            notes.append(f"these files of that set were changed or removed meanwhile: {', '.join(missing)}")
    leftovers = 0
    for entry in os.scandir(out):
        if entry.name.startswith(STAGING_PREFIX):
            _remove_tree(Path(entry.path))
            leftovers += 1
        elif entry.name.startswith(f".{OWN_PREFIX}") and entry.name.endswith(".tmp"):
            Path(entry.path).unlink(missing_ok=True)
    if leftovers:
        notes.append(f"removed {leftovers} staging folder(s) that interrupted runs left in {str(out)!r}")
    return notes
