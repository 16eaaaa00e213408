"""Where resumable tasks keep their checkpoints, attempt ledgers and outputs.

Layout under the store's root, one folder per task key (the key's SHA-256, so any key is a
safe name; the key itself is inside every object):

    <key-hash>/gen-<generation:010d>-<random>.ckpt   a checkpoint (a new object per save)
    <key-hash>/LATEST                                the name of the newest committed one
    <key-hash>/LEDGER                                the task's attempts (JSON)
    <key-hash>/OUTPUT                                the finished task's result, written once

Commit protocol (every store): a save writes a new generation-named object, then replaces the
small LATEST pointer. A writer killed before the pointer moves leaves the previous checkpoint
the one that loads; a pointer is replaced whole (an atomic rename on a file system, a single
object PUT elsewhere). The output is created only if absent (a hard link on a file system, a
lock-guarded check for `memory://`), so when two attempts race, one result wins, whole.

Object format (version 1): a JSON header line, then the payload.

    {"format": "spotray.checkpoint", "version": 1, "key": KEY, "generation": N,
     "created": UNIX_SECONDS, "payload": "pickle"}\n<pickle bytes>

A header of another format, a newer version, or another task's key is refused with
CheckpointError, never loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .._errors import SpotrayError

FORMAT = "spotray.checkpoint"
VERSION = 1
LATEST, LEDGER, OUTPUT = "LATEST", "LEDGER", "OUTPUT"
REFERENCE = b"@spotray-ref:"  # an object whose content is the name of another


class CheckpointError(SpotrayError):
    """A checkpoint that cannot be read as this task's, or a store that cannot be used."""


def encode(key: str, generation: int, value: Any) -> bytes:
    header = {
        "format": FORMAT,
        "version": VERSION,
        "key": key,
        "generation": generation,
        "created": round(time.time(), 3),
        "payload": "pickle",
    }
    return json.dumps(header).encode() + b"\n" + pickle.dumps(value, protocol=5)


def decode(data: bytes, key: str, where: str) -> tuple[dict, Any]:
    head, _, body = data.partition(b"\n")
    try:
        header = json.loads(head)
    except ValueError:
        raise CheckpointError(f"{where}: not a spotray checkpoint (no JSON header)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{where}: not a spotray checkpoint")
    if header.get("version") != VERSION:
        raise CheckpointError(
            f"{where}: checkpoint format version {header.get('version')!r}; this spotray "
            f"reads version {VERSION}"
        )
    if header.get("key") != key:
        raise CheckpointError(
            f"{where}: a checkpoint of task {header.get('key')!r}, not of {key!r}"
        )
    return header, pickle.loads(body)


class Store:
    """Objects by name under a root: the few primitives the commit protocol needs."""

    url: str

    def read(self, name: str) -> bytes | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def write(self, name: str, data: bytes) -> None:
        """Write an object whole: readers see the old content or the new, never a part."""
        raise NotImplementedError  # pragma: no cover

    def create(self, name: str, data: bytes) -> bool:
        """Write an object only if it does not exist; False if it did (nothing written)."""
        raise NotImplementedError  # pragma: no cover

    def delete(self, name: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class LocalStore(Store):
    """A directory (shared by every node of a local cluster; on GKE, a shared volume)."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, name: str) -> Path:
        return self.root / name

    def read(self, name: str) -> bytes | None:
        try:
            data = self._path(name).read_bytes()
        except FileNotFoundError:
            return None
        if data.startswith(REFERENCE):  # see `create` on file systems without hard links
            folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
            return self.read(folder + data[len(REFERENCE) :].decode())
        return data

    def _staged(self, name: str, data: bytes) -> Path:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return Path(tmp)

    def write(self, name: str, data: bytes) -> None:
        tmp = self._staged(name, data)
        try:
            os.replace(tmp, self._path(name))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def create(self, name: str, data: bytes) -> bool:
        tmp = self._staged(name, data)
        try:
            os.link(tmp, self._path(name))  # fails if the name exists: first writer wins
            return True
        except FileExistsError:
            return False
        except OSError:  # no hard links here: the data whole under a name of its own, then
            return self._create_by_reference(name, data)  # an exclusive, tiny reference
        finally:
            tmp.unlink(missing_ok=True)

    def _create_by_reference(self, name: str, data: bytes) -> bool:
        if self._path(name).exists():
            return False
        target = f"{name}-{secrets.token_hex(6)}"
        self.write(target, data)
        reference = REFERENCE + target.rsplit("/", 1)[-1].encode()
        try:
            fd = os.open(self._path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            self.delete(target)
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(reference)  # a few bytes, one write
        return True

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


class FsspecStore(Store):
    """Any fsspec file system (`memory://` for tests; object stores where installed). A PUT
    replaces an object whole; `create` is exact within one process (a lock). `memory://`
    lives in one process: Ray runs every attempt in a worker process of its own, so use it
    only for tests of the store, never as a task's store."""

    _lock = threading.Lock()

    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError:
            raise CheckpointError(
                f"{url}: checkpoint stores other than a directory need fsspec: "
                "pip install 'spotray[local]'"
            ) from None
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise CheckpointError(f"{url}: cannot open this checkpoint store: {exc}") from None
        self.url = url

    def _path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def read(self, name: str) -> bytes | None:
        try:
            return self.fs.cat_file(self._path(name))
        except FileNotFoundError:
            return None

    def write(self, name: str, data: bytes) -> None:
        self.fs.pipe_file(self._path(name), data)

    def create(self, name: str, data: bytes) -> bool:
        with self._lock:
            if self.fs.exists(self._path(name)):
                return False
            self.fs.pipe_file(self._path(name), data)
            return True

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(name))


def open_store(url: str | os.PathLike[str]) -> Store:
    """A store for a directory path (or `file://` URL), or any other fsspec URL."""
    text = os.fspath(url)
    if text.startswith("file://"):
        return LocalStore(text.removeprefix("file://"))
    if "://" not in text:
        return LocalStore(text)
    return FsspecStore(text)


class TaskCheckpoints:
    """The objects of one task key in a store: its checkpoints, ledger and output."""

    def __init__(self, store: Store, key: str) -> None:
        self.store, self.key = store, key
        self.folder = hashlib.sha256(key.encode()).hexdigest()[:32]

    def _name(self, leaf: str) -> str:
        return f"{self.folder}/{leaf}"

    def latest(self) -> tuple[int, Any] | None:
        """(generation, state) of the newest committed checkpoint, if any."""
        pointer = self.store.read(self._name(LATEST))
        if pointer is None:
            return None
        name = pointer.decode().strip()
        data = self.store.read(self._name(name))
        if data is None:
            raise CheckpointError(f"{self.store.url}/{self._name(name)}: LATEST names it, gone")
        header, state = decode(data, self.key, f"{self.store.url}/{self._name(name)}")
        return int(header["generation"]), state

    def save(self, generation: int, state: Any) -> None:
        """Commit `state` as `generation`: the object first, then the pointer."""
        name = f"gen-{generation:010d}-{secrets.token_hex(4)}.ckpt"
        self.store.write(self._name(name), encode(self.key, generation, state))
        self.store.write(self._name(LATEST), name.encode())

    def ledger(self) -> list[dict]:
        data = self.store.read(self._name(LEDGER))
        if data is None:
            return []
        try:
            entries = json.loads(data)
        except ValueError:
            raise CheckpointError(f"{self.store.url}/{self._name(LEDGER)}: not JSON") from None
        return entries if isinstance(entries, list) else []

    def write_ledger(self, entries: list[dict]) -> None:
        self.store.write(self._name(LEDGER), json.dumps(entries).encode())

    def output(self) -> tuple[bool, Any]:
        data = self.store.read(self._name(OUTPUT))
        if data is None:
            return False, None
        return True, decode(data, self.key, f"{self.store.url}/{self._name(OUTPUT)}")[1]

    def commit_output(self, value: Any) -> Any:
        """Commit the task's result once; returns the result that won (this or an earlier)."""
        if self.store.create(self._name(OUTPUT), encode(self.key, -1, value)):
            return value
        return self.output()[1]
