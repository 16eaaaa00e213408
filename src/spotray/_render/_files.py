"""Rendered files: built in memory, written all-or-nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .._io import write_files

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
        """Write every file into `directory` (created if missing), all or nothing: see
        `spotray._io.write_files` (staged, then renamed; restored on any failure)."""
        target = Path(directory)
        return write_files({target / name: text for name, text in self.files.items()})
