"""One report run per output folder: ``<out>/.ssm-report.lock``.

The lock is an exclusive ``flock`` on that file, held for the whole run (checks and writing). The
kernel drops it when the holding process ends in any way (exit, Ctrl-C, SIGKILL, a crash), so a lock
is never left held by a dead run; the file's content (pid, host, start time, command) only names the
holder. A second run into the same folder stops at once with :class:`OutputBusyError` naming the
holder. A lock file that is present but not held was left by a run that died: it is taken over, and
:attr:`OutputLock.stale` keeps its description for the message. ``flock`` works across hosts on NFS
(Linux maps it to POSIX locks there). Without ``fcntl`` (Windows) runs are not locked, and
:attr:`OutputLock.warning` says so.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .output import OutputError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

LOCK_NAME = ".ssm-report.lock"


class OutputBusyError(OutputError):
    """Another run holds the output folder's lock."""


@dataclass
class OutputLock:
    path: Path
    fd: int | None
    stale: dict | None = None  # the description a dead run left in the lock file, when one was taken over
    warning: str | None = None

    def stale_message(self) -> str | None:
        if self.stale is None:
            return None
        return (f"took over the lock {str(self.path)!r} left by a run that ended without releasing it "
                f"({describe(self.stale)}{_liveness(self.stale)})")


def describe(holder: dict) -> str:
    if not holder:
        return "its details were not written"
    return (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, started {holder.get('started_at', '?')}, "
            f"command: {holder.get('command', '?')}")


def _liveness(holder: dict) -> str:
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return ""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"; pid {pid} is no longer running"
    except OSError:
        pass
    return ""


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 65536)
    try:
        holder = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"unreadable": raw[:200].decode("utf-8", "replace")}
    return holder if isinstance(holder, dict) else {}


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as err:
        kind = "is a symlink or not a regular file" if path.is_symlink() or path.is_dir() else (err.strerror or str(err))
        raise OutputError(f"cannot lock the output folder: {str(path)!r} {kind}") from None


def acquire(out: Path) -> OutputLock:
    """Lock ``out`` for this run, or raise :class:`OutputBusyError` naming the run that holds it."""
    path = Path(out) / LOCK_NAME
    if fcntl is None:  # pragma: no cover
        return OutputLock(path, None, warning="no file locking on this platform: concurrent runs into one folder are not detected")
    for _ in range(20):
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_of_a_held_lock(fd)
            os.close(fd)
            raise OutputBusyError(f"another report run is writing to {str(out)!r} ({describe(holder)}); "
                                  f"wait for it to finish or choose another --out (lock: {str(path)!r})") from None
        except OSError as err:  # a file system without locks (some network or FUSE mounts)
            os.close(fd)
            return OutputLock(path, None, warning=f"{str(out)!r} cannot be locked ({err.strerror or err}): "
                                                  "concurrent runs into it are not detected")
        try:  # the file may have been released and removed between our open and our flock: then lock the new one
            current = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            current = None
        opened = os.fstat(fd)
        if current is None or (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
            os.close(fd)
            continue
        previous = _read(fd)
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "command": " ".join([Path(sys.executable).name, "-m", "reports", *sys.argv[1:]])}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(holder) + "\n").encode("utf-8"))
        os.fsync(fd)
        return OutputLock(path, fd, stale=previous if previous else None)
    raise OutputError(f"cannot lock the output folder: {str(path)!r} keeps being replaced")


def _holder_of_a_held_lock(fd: int, wait_s: float = 1.0) -> dict:
    """The holder's description; a holder that has just taken the lock may not have written it yet."""
    deadline = time.monotonic() + wait_s
    while True:
        holder = _read(fd)
        if (holder and not _liveness(holder)) or time.monotonic() > deadline:
            return holder
        time.sleep(0.05)


def release(lock: OutputLock) -> None:
    """Remove the lock file (still holding the lock, so no other run can be holding that file) and unlock."""
    if lock.fd is None:
        return
    try:
        current = os.stat(lock.path, follow_symlinks=False)
        opened = os.fstat(lock.fd)
        if (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
            os.unlink(lock.path)
    except OSError:
        pass
    finally:
        os.close(lock.fd)
        lock.fd = None


@contextmanager
def held(out: Path) -> Iterator[OutputLock]:
    lock = acquire(out)
    try:
        yield lock
    finally:
        release(lock)
