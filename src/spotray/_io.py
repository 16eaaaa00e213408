"""File I/O at the edges: inputs that never hang, outputs that are never half-written.

    read_input(name)            the text of a regular file (or stdin for "-"), or InputError
    write_files({path: text})   stage every file, then rename them all into place, or none
    write_text(path, text)      one file, atomically

Inputs: only regular files are read. A FIFO would block `open()` until a writer comes, a
device such as `/dev/zero` never ends, a directory cannot be read; each gets a clear error.
Outputs: a new file gets the mode a plain `open()` would give it (0666 less the umask); a
replaced file keeps its mode. Interrupts wait until every file is in place; on any error the
files that were replaced are put back, new ones removed, and the temporary files too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

from . import _signals
from ._errors import InputError, OutputError

STDIN = "-"
MAX_INPUT_BYTES = 64 * 1024 * 1024  # no spec, manifest or trace is near this


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_input(name: str | os.PathLike[str], *, what: str = "file") -> str:
    """The UTF-8 text of a regular file, or of stdin for `-`.

    Raises InputError (exit 2) for a missing file, a FIFO, a device, a directory, a file over
    MAX_INPUT_BYTES or text that is not UTF-8, naming the file; never blocks on a FIFO and never
    opens anything but a regular file (opening a device can have effects of its own)."""
    name = os.fspath(name)
    if name == STDIN:
        if sys.stdin is None or sys.stdin.closed:
            raise InputError("-: standard input is closed")
        return _decode(sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), "<stdin>")
    try:
        info = os.stat(name)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{name}: is {_kind(info.st_mode)}, not a regular {what}")
    try:
        # O_NONBLOCK: should the path have become a FIFO since, opening it returns at once
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        fd = os.open(name, flags)
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{name}: is {_kind(info.st_mode)}, not a regular {what}")
        if info.st_size > MAX_INPUT_BYTES:
            raise InputError(f"{name}: {info.st_size} bytes; more than a {what} can be")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return _decode(data, name)


def _decode(data: bytes, name: str) -> str:
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"{name}: more than {MAX_INPUT_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{name}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def _umask() -> int:
    """The process's umask, read without changing it (other threads may create files)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # no /proc: the classic way
    os.umask(mask)
    return mask


def write_files(files: dict[Path, str | bytes]) -> list[Path]:
    """Write every file (text as UTF-8, bytes as they are), all or nothing: each is staged beside its target, then all are
    renamed into place; on failure what was replaced is restored and what was new removed.

    Ctrl-C, SIGTERM and SIGHUP are held while the files are staged and renamed (a few
    milliseconds) and delivered after: an interrupt never leaves some files new and some old."""
    with _signals.deferred():
        return _write_files(files)


def _write_files(files: dict[Path, str | bytes]) -> list[Path]:
    new_mode = 0o666 & ~_umask()
    staged: list[tuple[Path, Path]] = []  # (temporary, target)
    backups: dict[Path, Path] = {}  # target -> a hard link to (or copy of) its old content
    placed: list[tuple[Path, Path]] = []  # renames begun
    try:
        for final, content in files.items():
            final.parent.mkdir(parents=True, exist_ok=True)
            mode = new_mode
            with contextlib.suppress(FileNotFoundError):
                info = final.lstat()
                if not stat.S_ISREG(info.st_mode):
                    raise OutputError(f"{final}: is {_kind(info.st_mode)}; cannot replace it")
                mode = stat.S_IMODE(info.st_mode)
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
            staged.append((Path(tmp), final))
            data = content.encode("utf-8") if isinstance(content, str) else content
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
        for _, final in staged:
            if final.exists():
                backup = final.with_name(f".{final.name}.{os.getpid()}.bak")
                backups[final] = backup
                backup.unlink(missing_ok=True)
                try:
                    os.link(final, backup)
                except OSError:  # a file system without hard links
                    shutil.copy2(final, backup)
        for tmp, final in staged:
            placed.append((tmp, final))
            os.replace(tmp, final)
    except BaseException as exc:
        _roll_back(staged, backups, placed)
        if isinstance(exc, OSError):
            where = exc.filename or (staged[-1][1] if staged else "")
            raise OutputError(f"{where}: cannot write: {exc.strerror or exc}") from None
        raise
    for backup in backups.values():
        backup.unlink(missing_ok=True)
    return [final for _, final in staged]


def _roll_back(staged, backups, placed) -> None:
    """Put back what was replaced, remove what was new, and every temporary file."""
    for tmp, final in reversed(placed):
        if tmp.exists():
            continue  # its rename never happened
        with contextlib.suppress(OSError):
            if final in backups and backups[final].exists():
                os.replace(backups.pop(final), final)
            else:
                final.unlink()
    for tmp, _ in staged:
        with contextlib.suppress(OSError):
            tmp.unlink()
    for backup in backups.values():
        with contextlib.suppress(OSError):
            backup.unlink()


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write one file atomically (see `write_files`)."""
    return write_files({Path(path): text})[0]
