"""Rendered files: built in memory, written all-or-nothing."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .._errors import OutputError

TERRAFORM_FILE = "node-pools.tf"
RAYCLUSTER_FILE = "raycluster.yaml"


@dataclass(frozen=True)
class Rendered:
    """The documents rendered from one plan, by file name."""

    files: dict[str, str]

    @property
    def terraform(self) -> str:
        return self.files[TERRAFORM_FILE]

    @property
    def raycluster(self) -> str:
        return self.files[RAYCLUSTER_FILE]

    def write(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write every file into `directory` (created if missing), atomically.

        Each file is first written to a temporary file beside its target; only when all are
        written are they renamed into place, so a failure leaves no partial file behind.
        """
        target = Path(directory)
        staged: list[tuple[Path, Path]] = []
        try:
            target.mkdir(parents=True, exist_ok=True)
            for name, text in self.files.items():
                fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=target)
                staged.append((Path(tmp), target / name))
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
            for tmp, final in staged:
                os.replace(tmp, final)
        except OSError as exc:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise OutputError(f"{target}: cannot write rendered files: {exc}") from None
        return [final for _, final in staged]
