"""Files pkmodel writes: atomically, never over an existing file unless asked; folders swapped in
whole; the SHA-256 of every file taken from the bytes as they were written (CSV text:
`pkmodel.io.csvfile`).

Every file goes to a hidden temporary name in its own folder, is flushed to disk and then
renamed into place (`os.replace`, atomic on POSIX and Windows): an interrupted run leaves
either the whole file or nothing under the final name, never a half-written one that looks
whole. A folder of files (a study's output) is built aside under a hidden temporary name and
put in place by one rename: on Linux `renameat2(RENAME_EXCHANGE)` swaps it with the earlier
folder in one step, so at every moment the folder is wholly the earlier run's or wholly the
new one's.

A temporary's name says who made it (host, boot, process ID and the process's start time):
`.{name}.{token}.{host}-{boot}-{pid}-{start}.partial`. Temporaries left by a process that
has died (killed, or a crash) are removed by the next write into their folder; those of a
live process, or of another host, are never touched.
"""

import ctypes
import errno
import hashlib
import io
import os
import re
import secrets
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

_TEMPORARY = re.compile(
    r"^\..+\.[0-9a-f]{12}\.(?P<host>[0-9a-f]{8})-(?P<boot>[0-9a-f]{8})-"
    r"(?P<pid>[0-9]{1,10})-(?P<start>[0-9]{1,20})\.partial$"
)
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2  # linux/fs.h
_AT_FDCWD = -100


# --- files ---------------------------------------------------------------------------------


@contextmanager
def atomic_write(path, *, overwrite: bool = False, text: bool = False):
    """Open a temporary file next to `path`; on success it becomes `path`, on failure nothing does.

    Yields a binary file (text=True: text, UTF-8, newline as written) that hashes what is
    written to it: after the block its `sha256` is the hex SHA-256 of the file's bytes, taken
    from memory as they were written (never read back). On leaving the block the file is
    flushed, fsync'ed and renamed to `path`; an exception inside the block removes the
    temporary file and leaves `path` as it was. Stale temporaries of dead processes in the
    folder are removed first (module docstring).

    Raises FileExistsError if `path` exists and `overwrite` is False (checked on entry, and
    again when the file is put in place: a file that appeared meanwhile is not replaced), and
    FileNotFoundError if its folder does not exist.
    """
    path = checked_path(path, "path")
    _refuse_existing(path, overwrite)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {str(path.parent)!r} of {str(path)!r} does not exist")
    remove_stale_temporaries(path.parent)
    temporary = path.with_name(temporary_name(path.name))
    fd = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
    )  # 0o666 less the umask, as any file (mkstemp's 0o600 makes it private)
    try:
        with open(fd, "wb") as raw:
            writer = _HashingText(raw) if text else _HashingBinary(raw)
            yield writer
            writer.flush()
            os.fsync(raw.fileno())
        writer.sha256 = writer.digest.hexdigest()
        _put_in_place(temporary, path, overwrite)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def checked_path(path, name: str, what: str = "a path") -> Path:
    """`path` as a Path; refused when it is not a path, or empty (which would mean the working
    directory without saying so). `what` names the expected path in the messages."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} is a {type(path).__name__}; expected {what} (str or Path)")
    if os.fspath(path) in ("", b""):
        raise ValueError(
            f"{name} is {os.fspath(path)!r}; expected {what} (an empty path would mean the working directory)"
        )
    return Path(os.fsdecode(path))


class _HashingBinary(io.RawIOBase):
    """A write-only binary file that hashes what goes through it."""

    def __init__(self, raw):
        super().__init__()
        self._raw, self.digest, self._written = raw, hashlib.sha256(), 0
        self.sha256 = None

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self._raw.write(view)
        self._written += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        if not self._raw.closed:
            self._raw.flush()

    def fileno(self) -> int:
        return self._raw.fileno()


class _HashingText(io.TextIOBase):
    """A write-only UTF-8 text file (newlines as written) that hashes the bytes it writes."""

    def __init__(self, raw):
        super().__init__()
        self._binary = _HashingBinary(raw)
        self.sha256 = None

    @property
    def digest(self):
        return self._binary.digest

    @property
    def encoding(self) -> str:  # type: ignore[override]  # read-only: the bytes are UTF-8 by construction
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._binary.write(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        self._binary.flush()

    def fileno(self) -> int:
        return self._binary.fileno()


def _refuse_existing(path: Path, overwrite: bool) -> None:
    _check_overwrite(overwrite)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it")


def _check_overwrite(overwrite) -> None:
    if not isinstance(overwrite, (bool, np.bool_)):
        raise TypeError(f"overwrite is {overwrite!r}; expected True or False")


def _put_in_place(temporary: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temporary, path)
        return
    try:  # a hard link fails if the name is taken: no file written meanwhile is replaced
        os.link(temporary, path)
    except FileExistsError:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it") from None
    except OSError:  # no hard links on this file system: check, then rename
        _refuse_existing(path, overwrite)
        os.replace(temporary, path)
        return
    os.unlink(temporary)


def _sync_folder(folder: Path) -> None:
    """Make a rename itself durable (POSIX; folders cannot be opened on Windows)."""
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- folders -------------------------------------------------------------------------------


@contextmanager
def atomic_folder(
    path,
    *,
    overwrite: bool = False,
    replaceable: Callable[[Path], str | None] | None = None,
    flag: str = "overwrite=True",
):
    """Build a folder aside; on success it becomes `path` whole, in one step.

    Yields the new, empty folder to write into (a hidden temporary next to `path`). On
    leaving the block it takes the place of `path`: when `path` is new (or an empty
    folder) by a rename that never replaces a folder another process put there meanwhile;
    with `overwrite`, by swapping it with the earlier folder in one step (Linux
    `renameat2(RENAME_EXCHANGE)`; elsewhere two renames, between which `path` is briefly
    missing) and then removing the earlier folder. An exception inside the block removes the
    temporary folder and leaves `path` as it was.

    replaceable(folder) says why an existing folder must not be replaced (a message), or
    None; it is asked on entry and again of the folder actually swapped out, which is put
    back if it fails. FileExistsError messages end with "pass {flag} to replace it".
    """
    _check_overwrite(overwrite)
    path = Path(os.path.realpath(checked_path(path, "path")))  # a link: its folder is swapped
    replaceable = replaceable or (lambda folder: None)
    _refuse_folder(path, overwrite, replaceable, flag)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    aside = path.with_name(temporary_name(path.name))
    aside.mkdir()
    try:
        yield aside
        _sync_folder(aside)
        _swap_in(aside, path, overwrite, replaceable, flag)
    except BaseException:
        shutil.rmtree(aside, ignore_errors=True)
        raise
    _sync_folder(path.parent)


def _refuse_folder(path: Path, overwrite: bool, replaceable, flag: str) -> None:
    if not path.exists():
        return
    if not path.is_dir():
        raise FileExistsError(f"{str(path)!r} is a file; expected a folder")
    if not any(os.scandir(path)):
        return
    problem = replaceable(path)
    if problem:
        raise FileExistsError(problem)
    if not overwrite:
        raise FileExistsError(f"{str(path)!r} exists and is not empty; pass {flag} to replace it")


def _swap_in(aside: Path, path: Path, overwrite: bool, replaceable, flag: str) -> None:
    """Put the folder `aside` at `path` (see atomic_folder); on return `aside` is gone."""
    for _ in range(8):  # another process may put a folder there or take it away meanwhile
        if not path.exists() or _empty_folder_removed(path):
            try:
                return _rename(aside, path, _RENAME_NOREPLACE)
            except FileExistsError:
                if not overwrite:
                    break
                continue
        if not overwrite:
            break
        try:
            _rename(aside, path, _RENAME_EXCHANGE)
        except FileNotFoundError:  # gone meanwhile
            continue
        problem = replaceable(aside)  # aside now holds the folder swapped out
        if problem:
            _rename(aside, path, _RENAME_EXCHANGE)
            raise FileExistsError(problem)
        shutil.rmtree(aside)
        return
    raise FileExistsError(
        f"{str(path)!r} exists: another run put its files there meanwhile; pass {flag} to replace it"
    )


def _empty_folder_removed(path: Path) -> bool:
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError:  # not empty (or not a folder)
        return False
    return True


def _rename(source: Path, target: Path, flags: int) -> None:
    """renameat2(source, target, flags), or the nearest portable equivalent where there is none."""
    function = getattr(_libc(), "renameat2", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        if function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), str(source), None, str(target))
    if flags == _RENAME_NOREPLACE:  # check, then rename (a rename onto an empty folder replaces it)
        if target.exists():
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
        os.rename(source, target)
        return
    # exchange in two steps: the earlier folder out of the way, then the new one in
    parked = target.with_name(temporary_name(target.name))
    os.rename(target, parked)
    os.rename(source, target)
    os.rename(parked, source)


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # no C library to load (Windows)
        return None


# --- temporaries ---------------------------------------------------------------------------


def temporary_name(name: str) -> str:
    """A new hidden name for a temporary next to `name`, tagged with this process (see module
    docstring)."""
    host, boot = _host_and_boot()
    pid = os.getpid()
    return f".{name}.{secrets.token_hex(6)}.{host}-{boot}-{pid}-{_start_time(pid) or 0}.partial"


def is_temporary(name: str) -> bool:
    """Whether `name` is one of pkmodel's temporaries (any version: `.*.partial`)."""
    return name.startswith(".") and name.endswith(".partial")


def remove_stale_temporaries(folder) -> list[str]:
    """Remove the temporaries in `folder` whose process has died; returns their names.

    A temporary is stale when it was made on this host and its process no longer runs: its
    ID is free, or taken by a process started at another time, or the machine has booted
    since. Those of live processes, of other hosts and without an owner tag (earlier
    pkmodel versions) are kept. Never fails: what cannot be removed stays.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or _owner_alive(**match.groupdict()):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except FileNotFoundError:  # another process cleaned it meanwhile
            pass
        except OSError:
            continue
        removed.append(entry.name)
    return removed


def _owner_alive(host: str, boot: str, pid: str, start: str) -> bool:
    here, booted = _host_and_boot()
    if host != here:
        return True  # another machine's process: nothing here says whether it runs
    if boot != booted:
        return False  # made before the machine last started
    pid_, start_ = int(pid), int(start)
    if pid_ <= 0:
        return True
    try:
        os.kill(pid_, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's live process (or not a process ID at all)
    actual = _start_time(pid_)
    return actual is None or start_ == 0 or actual == start_


def _host_and_boot() -> tuple[str, str]:
    """Short hashes of the host name and of this boot of the machine (zeros where unknown)."""
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_bytes().strip()
    except OSError:
        return host, "0" * 8
    return host, hashlib.sha256(boot_id).hexdigest()[:8]


def _start_time(pid: int) -> int | None:
    """When process `pid` started, clock ticks since boot (Linux /proc), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        return int(stat[stat.rindex(b")") + 2 :].split()[19])  # field 22, after "pid (comm)"
    except (OSError, ValueError, IndexError):
        return None
