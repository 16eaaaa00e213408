"""YAML documents that remember where every value came from.

`load_documents` parses YAML into plain Python data (safe types only) and records, for every path
(a tuple of keys and list indexes), the 1-based line and column of its value and, for mapping
entries, of its key. Errors and findings use these to point at `file:line:column`.

Duplicate keys, which PyYAML would silently overwrite, are errors here, and so are documents that
expand (through aliases) to absurd sizes or depths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from ._errors import InputError

try:  # the C loader is several times faster; fall back to pure Python where it is missing
    _Base = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Base = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_TAGS: dict[tuple[str, tuple[bool, bool]], str] = {}  # (scalar, implicit) -> resolved tag


class _Loader(_Base):  # type: ignore[valid-type, misc]
    """The safe loader with a memo of implicit scalar tags (manifests repeat their scalars)."""

    def resolve(self, kind, value, implicit):
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = _TAGS.get(key)
        if tag is None:
            if len(_TAGS) > 50_000:
                _TAGS.clear()
            tag = _TAGS[key] = super().resolve(kind, value, implicit)
        return tag


Path = tuple[str | int, ...]
_MAX_NODES = 200_000
_MAX_DEPTH = 64


@dataclass
class Document:
    """One YAML document: its data and where each path starts in the file."""

    data: Any
    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, *, key: bool = False) -> tuple[int | None, int | None]:
        """(line, column) of `path`, or of its nearest located ancestor."""
        path = tuple(path)
        while True:
            table = self.keys if key and path in self.keys else self.values
            if path in table:
                return table[path]
            if not path:
                return None, None
            path = path[:-1]
            key = False


class _Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.constructor = yaml.constructor.SafeConstructor()
        self.count = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > _MAX_NODES:
            raise InputError(f"{self.doc.file}: document too large (more than {_MAX_NODES} nodes)")
        if len(path) > _MAX_DEPTH:
            raise InputError(f"{self.doc.file}: document nested more than {_MAX_DEPTH} levels")
        mark = node.start_mark
        self.doc.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag == _STR:  # the common case, without the constructor's bookkeeping
            return node.value
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict:
        self.constructor.flatten_mapping(node)
        out: dict = {}
        for key_node, value_node in node.value:
            where = (
                f"{self.doc.file}:{key_node.start_mark.line + 1}:{key_node.start_mark.column + 1}"
            )
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError(f"{where}: mapping keys must be plain scalars")
            key = (
                key_node.value
                if key_node.tag == _STR
                else self.constructor.construct_object(key_node)
            )
            if isinstance(key, bytes | list | dict):  # pragma: no cover - scalars only
                raise InputError(f"{where}: unsupported key {key!r}")
            if key in out:
                raise InputError(f"{where}: duplicate key {key!r}")
            child = (*path, key)
            self.doc.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, child)
        return out


def load_documents(text: str, *, file: str = "<string>") -> list[Document]:
    """Parse every YAML document in `text`; raise `InputError` naming file, line and column."""
    docs: list[Document] = []
    try:
        for node in yaml.compose_all(text, Loader=_Loader):
            if node is None:
                continue
            doc = Document(data=None, file=file)
            doc.data = _Builder(doc).build(node, ())
            docs.append(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{file}: invalid YAML: {exc}") from None
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"{file}: invalid YAML: {exc}") from None
    return docs


def load_document(text: str, *, file: str = "<string>") -> Document:
    """Parse exactly one YAML document."""
    docs = load_documents(text, file=file)
    if len(docs) != 1:
        raise InputError(f"{file}: expected one YAML document, found {len(docs)}")
    return docs[0]
