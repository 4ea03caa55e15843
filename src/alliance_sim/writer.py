"""The one writer of outputs: every command builds its output (a run or compare folder, a plots folder,
a sweep store) in a temporary sibling and moves it into place with one ``os.replace``.

What this guarantees (docs/reliability.md):

* an output either exists complete under its name or not at all — on success, on an exception, on
  SIGINT, SIGTERM or SIGHUP (a second Ctrl-C during the cleanup is ignored, not obeyed half-way), and
  on a full disk (checked up front where the size is known; ``ENOSPC`` later is one line too);
* temporaries are named ``.<name>.partial-<host>-<pid>``; one left by a process that no longer exists
  (kill -9, power loss) is removed by the next command that writes the same output, and reported;
* a signal that arrives while the output is being moved into place is held until the move is done,
  so "interrupted" never hides a half-renamed output.

``pause_point(stage)`` is the fault-injection hook: with ``ALLIANCE_SIM_PAUSE_AT=stage[,stage…]`` the
process prints ``paused at <stage> (pid N)`` on stderr and waits (until SIGUSR1, or
``ALLIANCE_SIM_PAUSE_SECONDS``, default 30) so a test can send a signal at a known moment.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

#: Signals turned into an orderly abort (cleanup, one line, exit 128 + signal number).
HANDLED_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s)
PARTIAL = ".partial-"
#: Longest file name most file systems accept (bytes); the temporary name adds a prefix and a suffix.
NAME_MAX = 255


class OutputError(Exception):
    """An output that cannot be written (one-line message naming the path)."""


class Terminated(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP received: abort, clean up, exit ``128 + signum``."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# --------------------------------------------------------------------------------- signal state

_state = threading.local()
_received: list[int] = []  # signals seen while handlers were installed (checked before committing)
_defer = [0]  # > 0 while an output is being moved into place
committed: list[Path] = []  # outputs moved into place by this process (for an honest "interrupted" line)


def _handler(signum, frame):  # noqa: ARG001 - signal API
    _received.append(signum)
    if _defer[0] == 0:
        raise Terminated(signum)


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """SIGINT/SIGTERM/SIGHUP raise :class:`Terminated` in the main thread while inside (re-entrant;
    a no-op outside the main thread, where handlers cannot be installed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    depth = getattr(_state, "depth", 0)
    previous = {}
    if depth == 0:
        _received.clear()
        committed.clear()
        for s in HANDLED_SIGNALS:
            previous[s] = signal.signal(s, _handler)
    _state.depth = depth + 1
    try:
        yield
    finally:
        _state.depth = depth
        for s, h in previous.items():
            signal.signal(s, h)


def raise_if_signalled() -> None:
    """Raise :class:`Terminated` if a signal arrived (even one some library caught and swallowed)."""
    if _received:
        raise Terminated(_received[0])


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """Ignore the handled signals (a second Ctrl-C must not interrupt the cleanup of the first)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in HANDLED_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    _defer[0] += 1
    try:
        yield
    finally:
        _defer[0] -= 1


# ------------------------------------------------------------------------------ fault injection

_paused: set[str] = set()


def pause_point(stage: str) -> None:
    """Wait here if ``ALLIANCE_SIM_PAUSE_AT`` names ``stage`` (fault-injection tests); else nothing."""
    wanted = os.environ.get("ALLIANCE_SIM_PAUSE_AT", "")
    if not wanted or stage not in [w.strip() for w in wanted.split(",")] or stage in _paused:
        return
    _paused.add(stage)  # once per stage and process: a resumed test is not stopped again
    resumed = []
    old = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGUSR1, lambda *_: resumed.append(1))
    print(f"paused at {stage} (pid {os.getpid()})", file=sys.stderr, flush=True)
    deadline = time.monotonic() + float(os.environ.get("ALLIANCE_SIM_PAUSE_SECONDS", "30"))
    try:
        while not resumed and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        if old is not None:
            signal.signal(signal.SIGUSR1, old)


# ----------------------------------------------------------------------------------- temporaries


def _host() -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())[:40] or "host"


def partial_path(out: Path) -> Path:
    """This process's temporary sibling of ``out``."""
    return out.parent / f".{out.name}{PARTIAL}{_host()}-{os.getpid()}"


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process that could be ours (a reused pid of another program is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"python" in cmd or b"alliance" in cmd


def partials_of(out: Path) -> list[tuple[Path, str, int]]:
    """Temporaries of ``out`` left in its folder: (path, host, pid)."""
    out = Path(out)
    if not out.parent.is_dir():
        return []
    prefix = f".{out.name}{PARTIAL}"
    found = []
    with contextlib.suppress(OSError):
        for p in out.parent.iterdir():
            if not p.name.startswith(prefix):
                continue
            host, _, pid = p.name[len(prefix):].rpartition("-")
            pid = pid.split(".")[0]  # a temporary file keeps its suffix (.png), so tools see its format
            if pid.isdigit():
                found.append((p, host, int(pid)))
    return found


def stale_partials(out: Path) -> tuple[list[Path], list[str]]:
    """(temporaries of ``out`` whose writer is gone, descriptions of those another live process owns)."""
    stale, busy = [], []
    for p, host, pid in partials_of(out):
        if pid == os.getpid() and host == _host():
            continue
        if host == _host() and not _alive(pid):
            stale.append(p)
        else:
            busy.append(f"{p.name} (process {pid} on {host or 'another host'})")
    return stale, busy


def remove_stale(out: Path, say=None) -> list[Path]:
    """Remove the temporaries of ``out`` left by dead processes on this host; report each on stderr.
    A temporary of a live process (or one on another host) means someone is writing ``out`` now."""
    out = Path(out)
    stale, busy = stale_partials(out)
    if busy:
        raise OutputError(f"{out}: another process is writing it ({busy[0]}); wait for it or remove that "
                          "temporary if the process is gone")
    for p in stale:
        _rmtree(p)
        (say or _note)(f"{out}: removed {p.name}, left by an interrupted run")
    return stale


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def _rmtree(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


# ------------------------------------------------------------------------------------- checks


def check_name(out: Path) -> None:
    """A name the file system will accept, temporary prefix and suffix included (checked before running)."""
    name = out.name
    longest = len(f".{name}{PARTIAL}{_host()}-{4 * 2**20}".encode(errors="surrogateescape"))
    if longest > NAME_MAX:
        room = NAME_MAX - (longest - len(name.encode(errors="surrogateescape")))
        raise OutputError(f"{out}: name too long ({len(name.encode(errors='surrogateescape'))} bytes; at most "
                          f"{room} here)")


def nearest_existing(path: Path) -> Path:
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_space(out: Path, need_bytes: int | None) -> None:
    """Refuse up front when the file system of ``out`` has less free space than the output needs."""
    if not need_bytes:
        return
    where = nearest_existing(out.parent)
    try:
        usage = shutil.disk_usage(where)
    except OSError:
        return
    if usage.total == 0:  # a pseudo file system (/proc): writing fails on its own, with its own reason
        return
    free = usage.free
    need = int(need_bytes * 1.1) + 2**20
    if free < need:
        raise OutputError(f"{out}: not enough disk space: needs about {_mb(need)}, {_mb(free)} free on {where}; "
                          "nothing was written")


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB" if n < 2**30 else f"{n / 2**30:,.2f} GB"


def check_target(out: Path) -> Path:
    """Check, without writing, that ``out`` can become a new output (absent or an empty folder, under a
    writable folder, with a name the file system accepts)."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise OutputError(f"{out}: exists and is not a folder")
        try:
            nonempty = any(out.iterdir())
        except OSError as exc:
            raise OutputError(f"{out}: cannot read folder ({exc.strerror or exc})") from None
        if nonempty:
            raise OutputError(f"{out}: folder exists and is not empty; choose a new --out folder")
    check_name(out)
    ancestor = nearest_existing(out.parent)
    if not ancestor.is_dir():
        raise OutputError(f"{out}: cannot create folder: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot create folder: {ancestor} is not writable")
    return out


def disk_error(exc: BaseException, out: Path) -> OutputError | None:
    """The one-line error for a full disk (or quota) found anywhere in ``exc``'s chain; else None."""
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 10:
        code = getattr(e, "errno", None)
        text = str(e)
        if code in (errno.ENOSPC, errno.EDQUOT) or "No space left" in text or "ENOSPC" in text:
            return OutputError(f"{out}: disk full while writing; nothing was written (free some space and run "
                               "again)")
        e = e.__cause__ or e.__context__
        seen += 1
    return None


def _fsync_tree(root: Path) -> None:
    """Flush the files of a (small) output to disk before it is renamed into place."""
    for dirpath, _, files in os.walk(root):
        for f in files:
            with contextlib.suppress(OSError):
                fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ------------------------------------------------------------------------------------ the writer


@contextlib.contextmanager
def atomic_output(out: str | Path, *, need_bytes: int | None = None, fsync: bool = True,
                  replace: bool = False) -> Iterator[Path]:
    """Yield a new temporary folder beside ``out``; when the block ends normally, move it to ``out``.

    On any exception or handled signal the temporary (and any parent folders this call created) is
    removed, with further signals ignored until that is done.  ``replace=True`` swaps an existing
    ``out`` (e.g. a plots folder being re-drawn) for the new one.  Full-disk errors become one
    :class:`OutputError` line."""
    out = Path(out)
    if not replace:
        check_target(out)
    else:
        check_name(out)
    remove_stale(out)
    check_space(out, need_bytes)
    created: list[Path] = []
    missing = []
    parent = out.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    tmp = partial_path(out)
    old = out.parent / f".{out.name}.old-{_host()}-{os.getpid()}"
    with signals_as_exceptions():
        try:
            try:
                for p in reversed(missing):
                    p.mkdir()
                    created.append(p)
                _rmtree(tmp)
                tmp.mkdir()
            except OSError as exc:
                raise disk_error(exc, out) or OutputError(
                    f"{out}: cannot create folder ({exc.strerror or exc})") from None
            yield tmp
            pause_point("before-commit")
            raise_if_signalled()
            if fsync:
                _fsync_tree(tmp)
            with signals_deferred():
                if replace and out.exists():
                    os.replace(out, old)
                elif out.exists():  # an empty folder (checked above) is replaced
                    out.rmdir()
                os.replace(tmp, out)
                committed.append(out)
                _fsync_dir(out.parent)
                _rmtree(old)
            raise_if_signalled()  # a signal held during the move: the output is complete, say so
        except BaseException as exc:
            with signals_ignored():
                pause_point("cleanup")
                _rmtree(tmp)
                if old.exists() and not out.exists():
                    os.replace(old, out)
                for p in reversed(created):
                    with contextlib.suppress(OSError):
                        p.rmdir()
            if isinstance(exc, Exception) and not isinstance(exc, OutputError):
                err = disk_error(exc, out)
                if err is not None:
                    raise err from None
            raise


def interrupted_message(signum: int | None = None) -> str:
    """'interrupted (SIGTERM); nothing was written' — or what was written before the signal."""
    name = f" ({signal.Signals(signum).name})" if signum else ""
    if committed:
        return f"interrupted{name} after writing {committed[-1]}"
    return f"interrupted{name}; nothing was written"


@contextlib.contextmanager
def atomic_file(out: str | Path, *, need_bytes: int | None = None) -> Iterator[Path]:
    """Like :func:`atomic_output` for one file that may already exist (e.g. a re-drawn figure): yield a
    temporary path beside it, replace ``out`` with it when the block ends normally."""
    out = Path(out)
    check_name(out)
    remove_stale(out)
    check_space(out, need_bytes)
    tmp = partial_path(out).with_name(partial_path(out).name + out.suffix)
    with signals_as_exceptions():
        try:
            yield tmp
            raise_if_signalled()
            with signals_deferred():
                os.replace(tmp, out)
                committed.append(out)
            raise_if_signalled()
        except BaseException as exc:
            with signals_ignored():
                _rmtree(tmp)
            if isinstance(exc, Exception) and not isinstance(exc, OutputError):
                err = disk_error(exc, out)
                if err is not None:
                    raise err from None
            raise
