"""Evaluate the Terraform that node-pool files use, without guessing.

python-hcl2 gives expressions as text (`${try(each.value["spot"], false)}`). This module evaluates
literals, string templates (`"${var.region}-a"`), `var.x` (the module's variable values),
`local.x` (the module's locals, evaluated on demand), `each.key`/`each.value`, `count.index`,
list and object literals, `for` expressions (`[for x in xs : f(x) if p(x)]`,
`{for k, v in m : k => v}`), attribute and index access, Terraform's operators (`?:`, `||`,
`&&`, `==`, `!=`, comparisons, arithmetic) and the functions pool code uses (`try`, `can`,
`lookup`, `merge`, `concat`, `format`, `coalesce`, `element`, `length`, `toset`, `split`, ...).
`dynamic` blocks with a known `for_each` become the blocks they generate. Anything else, and
anything that depends on it, evaluates to `UNKNOWN`, which callers report rather than guess.

`expand_resources` turns a `count` or `for_each` resource into one body per instance (none for
`count = 0`), with every expression it can evaluate replaced by its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any


class _Unknown:
    """A value Terraform would only know at plan time (or that spotray cannot evaluate)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
_TOKEN = re.compile(
    r"""(?:
    (?P<num>\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||=>|\.\.\.|[<>!?:+\-*/%=])
  | (?P<punct>[()\[\]{},.])
)""",
    re.X,
)


class _Fail(Exception):
    pass


_PENDING = object()  # a local being evaluated (a cycle reads as UNKNOWN)


@dataclass
class Scope:
    """What names mean while evaluating: the module's variables and locals, `each`, `count`,
    and the iterators of enclosing `for` expressions and `dynamic` blocks."""

    variables: dict[str, Any] = field(default_factory=dict)
    each_key: Any = UNKNOWN
    each_value: Any = UNKNOWN
    count_index: Any = UNKNOWN
    locals: dict[str, Any] = field(default_factory=dict)  # name -> python-hcl2 expression
    names: dict[str, Any] = field(default_factory=dict)  # iterator name -> value
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)  # shared by derived scopes

    def with_names(self, **names: Any) -> Scope:
        return replace(self, names={**self.names, **names})

    def local(self, name: str) -> Any:
        """`local.<name>`, evaluated once per module in the module's own scope."""
        if name not in self._cache:
            if name not in self.locals:
                return UNKNOWN
            self._cache[name] = _PENDING
            module = Scope(self.variables, locals=self.locals, _cache=self._cache)
            self._cache[name] = evaluate(self.locals[name], module)
        value = self._cache[name]
        return UNKNOWN if value is _PENDING else value


def module_scope(documents: list[dict], values: dict[str, Any] | None = None) -> Scope:
    """The scope of one Terraform module: variables declared in any of its files (defaults,
    overridden by `values`) and its `locals` blocks."""
    variables: dict[str, Any] = {}
    local_exprs: dict[str, Any] = {}
    for document in documents:
        variables.update(variable_defaults(document))
        for block in document.get("locals", []):
            local_exprs.update({k: v for k, v in block.items() if not k.startswith("__")})
    variables.update(values or {})
    return Scope(variables, locals=local_exprs)


def _string_end(text: str, pos: int) -> int:
    """The index after the quoted string starting at `pos`, interpolations and all."""
    i = pos + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return i + 1
        elif text.startswith(("$${", "%%{"), i):
            i += 3
        elif text.startswith(("${", "%{"), i):
            i = _interpolation_end(text, i)
        else:
            i += 1
    raise _Fail("unterminated string")


def _interpolation_end(text: str, start: int) -> int:
    """The index after the `}` that closes the `${` (or `%{`) at `start`."""
    depth, j = 1, start + 2
    while j < len(text) and depth:
        if text[j] == '"':
            j = _string_end(text, j)
            continue
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    if depth:
        raise _Fail("unterminated interpolation")
    return j


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            return out
        if text[pos] == '"':
            end = _string_end(text, pos)
            out.append(("str", text[pos:end]))
            pos = end
            continue
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _Fail(text[pos:])
        kind = m.lastgroup or ""
        out.append((kind, m[kind]))
        pos = m.end()


class _Parser:
    def __init__(self, text: str, scope: Scope) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.scope = scope

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise _Fail(value or "end")
        self.i += 1
        return tok

    def expr(self) -> Any:
        """Terraform's operators by precedence: `c ? a : b`, `||`, `&&`, `== !=`,
        `< <= > >=`, unary `!`; an unknown operand makes the result unknown (but for a known
        `true ||` / `false &&`)."""
        cond = self.binary(0)
        if self.peek() != ("op", "?"):
            return cond
        self.take("?")
        yes = self.expr()
        self.take(":")
        no = self.expr()
        if cond is UNKNOWN or not isinstance(cond, bool):
            return UNKNOWN
        return yes if cond else no

    _LEVELS = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Any:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in self._LEVELS[level]:
            op = self.take()[1]
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take("!")
            value = self.unary()
            return (not value) if isinstance(value, bool) else UNKNOWN
        if self.peek() == ("op", "-"):
            self.take("-")
            value = self.unary()
            return _apply("-", 0, value)
        if self.peek() == ("punct", "("):
            self.take("(")
            value = self.expr()
            self.take(")")
            return value
        return self.primary()

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return _template(value[1:-1], self.scope)
        if kind == "num":
            return float(value) if "." in value else int(value)
        if (kind, value) == ("punct", "["):
            return self.postfix(self.for_expr("]") if self.at_for() else self.list_literal())
        if (kind, value) == ("punct", "{"):
            return self.postfix(self.for_expr("}") if self.at_for() else self.object_literal())
        if kind != "name":
            raise _Fail(value)
        if value in ("true", "false"):
            return value == "true"
        if value == "null":
            return None
        if self.peek() == ("punct", "("):
            return self.postfix(self.call(value))
        return self.traversal(value)

    def at_for(self) -> bool:
        return self.peek() == ("name", "for")

    def sub(self, tokens: list[tuple[str, str]], scope: Scope) -> Any:
        """Evaluate a slice of tokens as one whole expression in `scope`."""
        parser = _Parser("", scope)
        parser.toks = tokens
        value = parser.expr()
        if parser.peek() is not None:
            raise _Fail(f"unexpected {parser.peek()[1]!r}")
        return value

    def list_literal(self) -> list:
        items = []
        while self.peek() != ("punct", "]"):
            items.append(self.expr())
            if self.peek() == ("punct", ","):
                self.take(",")
            elif self.peek() != ("punct", "]"):
                raise _Fail("list: expected , or ]")
        self.take("]")
        return items

    def object_literal(self) -> Any:
        obj: dict[str, Any] = {}
        unknown_key = False
        while self.peek() != ("punct", "}"):
            kind, value = self.take()
            if kind == "name":
                key: Any = value
            elif kind == "str":
                key = _template(value[1:-1], self.scope)
            elif (kind, value) == ("punct", "("):
                key = self.expr()
                self.take(")")
            else:
                raise _Fail(f"object key {value!r}")
            if self.take()[1] not in ("=", ":"):
                raise _Fail("object: expected = or :")
            item = self.expr()
            if key is UNKNOWN:
                unknown_key = True
            else:
                obj[_string(key)] = item
            if self.peek() == ("punct", ","):
                self.take(",")
        self.take("}")
        return UNKNOWN if unknown_key else obj

    def for_expr(self, close: str) -> Any:
        """`[for i, x in xs : body if cond]` or `{for k, v in m : key => value... if cond}`."""
        self.take("for")
        names = [self.take()[1]]
        if self.peek() == ("punct", ","):
            self.take(",")
            names.append(self.take()[1])
        if self.take()[1] != "in":
            raise _Fail("for: expected in")
        collection = self.expr()
        self.take(":")
        body, cond = _split_top(self.raw_until(close), ("name", "if"))
        if collection is UNKNOWN:
            return UNKNOWN
        if isinstance(collection, dict):
            pairs = sorted(collection.items())  # Terraform iterates maps in key order
        elif isinstance(collection, list):
            pairs = list(enumerate(collection))
        else:
            raise _Fail("for: not a collection")
        key_toks: list[tuple[str, str]] = []
        grouping = False
        if close == "}":
            key_toks, body = _split_top(body, ("op", "=>"))
            if body is None:
                raise _Fail("for: expected =>")
            if body and body[-1] == ("op", "..."):
                body, grouping = body[:-1], True
        out_list: list[Any] = []
        out_map: dict[str, Any] = {}
        for key, value in pairs:
            bound = {names[0]: value} if len(names) == 1 else {names[0]: key, names[1]: value}
            scope = self.scope.with_names(**bound)
            if cond is not None:
                keep = self.sub(cond, scope)
                if keep is UNKNOWN:
                    return UNKNOWN
                if not isinstance(keep, bool):
                    raise _Fail("for: condition is not a bool")
                if not keep:
                    continue
            item = self.sub(body, scope)
            if close == "]":
                out_list.append(item)
                continue
            name = self.sub(key_toks, scope)
            if name is UNKNOWN:
                return UNKNOWN
            if isinstance(name, (dict, list)):
                raise _Fail("for: a key must be a string")
            name = _string(name)
            if grouping:
                out_map.setdefault(name, []).append(item)
            elif name in out_map:
                raise _Fail(f"for: duplicate key {name!r}")
            else:
                out_map[name] = item
        return out_list if close == "]" else out_map

    def raw_until(self, close: str) -> list[tuple[str, str]]:
        """The tokens up to the `close` bracket that ends the construct just opened (taken, not
        evaluated: a `for` body and function arguments are evaluated later, or not at all)."""
        depth, start = 0, self.i
        while True:
            kind, value = self.take()
            if kind == "punct" and value in "([{":
                depth += 1
            elif kind == "punct" and value in ")]}":
                if depth == 0:
                    if value != close:
                        raise _Fail(f"unexpected {value!r}")
                    return self.toks[start : self.i - 1]
                depth -= 1

    def call(self, name: str) -> Any:
        self.take("(")
        args, rest = [], self.raw_until(")")  # evaluated lazily: try() and can() need that
        while rest is not None:
            arg, rest = _split_top(rest, ("punct", ","))
            args.append(arg)
        args = [arg for arg in args if arg]
        if name == "can":  # true when the expression evaluates without an error
            if len(args) != 1:
                raise _Fail("can: one argument")
            try:
                result = self.sub(args[0], self.scope)
            except _Fail:
                return False
            return UNKNOWN if result is UNKNOWN else True
        if name != "try":  # a failing argument fails the call, as in Terraform
            return _call(name, [self.sub(arg, self.scope) for arg in args])
        for arg in args:
            try:
                result = self.sub(arg, self.scope)
            except _Fail:
                continue
            if result is not UNKNOWN:
                return result
            return UNKNOWN  # unknown now: which argument Terraform picks is unknown too
        return UNKNOWN

    def traversal(self, root: str) -> Any:
        if root == "each":
            self.take(".")
            attr = self.take()[1]
            value = {"key": self.scope.each_key, "value": self.scope.each_value}.get(attr, UNKNOWN)
        elif root == "var":
            self.take(".")
            value = self.scope.variables.get(self.take()[1], UNKNOWN)
        elif root == "count":
            self.take(".")
            value = self.scope.count_index if self.take()[1] == "index" else UNKNOWN
        elif root == "local":
            self.take(".")
            value = self.scope.local(self.take()[1])
        elif root in self.scope.names:
            value = self.scope.names[root]
        else:
            value = UNKNOWN
        return self.postfix(value)

    def postfix(self, value: Any) -> Any:
        """`.attr` and `[index]` after a value (a variable, a function's result)."""
        while (tok := self.peek()) in (("punct", "."), ("punct", "[")):
            if tok[1] == ".":
                self.take(".")
                key: Any = self.take()[1]
            else:
                self.take("[")
                key = self.expr()
                self.take("]")
            in_dict = isinstance(value, dict) and key in value
            in_list = isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value)
            if in_dict or in_list:
                value = value[key]
            elif value is UNKNOWN:
                continue
            else:
                raise _Fail(f"no attribute {key!r}")  # like Terraform: an error, so try() moves on
        return value


def _split_top(
    tokens: list[tuple[str, str]], marker: tuple[str, str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]] | None]:
    """Split tokens at the first `marker` outside brackets: (before, after or None)."""
    depth = 0
    for i, (kind, value) in enumerate(tokens):
        if kind == "punct" and value in "([{":
            depth += 1
        elif kind == "punct" and value in ")]}":
            depth -= 1
        elif depth == 0 and (kind, value) == marker:
            return tokens[:i], tokens[i + 1 :]
    return tokens, None


def _string(value: Any) -> str:
    """Terraform's conversion of a primitive to string (`true`, not `True`)."""
    return "true" if value is True else "false" if value is False else str(value)


def _flatten(value: list) -> list:
    return [y for x in value for y in (_flatten(x) if isinstance(x, list) else [x])]


def _distinct(value: list) -> list:
    out: list = []
    for x in value:
        if x not in out:
            out.append(x)
    return out


def _replace(text: str, old: str, new: str) -> str:
    if len(old) > 1 and old.startswith("/") and old.endswith("/"):
        raise _Fail("replace: regular expressions are not evaluated")
    return text.replace(old, new)


def _format(spec: str, values: list) -> str:
    """Terraform's `format` for the verbs real pool code uses: %s %d %v %%."""
    out, i, args = [], 0, iter(values)
    while i < len(spec):
        if spec[i] == "%" and i + 1 < len(spec):
            verb = spec[i + 1]
            if verb == "%":
                out.append("%")
            elif verb in "sdv":
                value = next(args, UNKNOWN)
                if value is UNKNOWN:
                    raise _Fail("format: too few arguments")
                out.append(_string(value))
            else:
                raise _Fail(f"format: verb %{verb} not evaluated")
            i += 2
        else:
            out.append(spec[i])
            i += 1
    return "".join(out)


def _coalesce(values: list) -> Any:
    for value in values:
        if value is UNKNOWN:
            return UNKNOWN
        if value is not None and value != "":
            return value
    raise _Fail("coalesce: no non-null, non-empty argument")


# Terraform's functions that node-pool code uses (their documented semantics); any other
# function, or an unknown argument, gives UNKNOWN.
_FUNCTIONS = {
    "lookup": lambda m, k, *d: m[k] if isinstance(m, dict) and k in m else (d[0] if d else _fail()),
    "merge": lambda *ms: {k: v for m in ms for k, v in (m or {}).items()},
    "concat": lambda *ls: [x for part in ls for x in part],
    "format": lambda spec, *vs: _format(spec, list(vs)),
    "coalesce": lambda *vs: _coalesce(list(vs)),
    "tostring": _string,
    "tobool": lambda v: v if isinstance(v, bool) else {"true": True, "false": False}[v],
    "tonumber": lambda v: v if isinstance(v, (int, float)) else (float(v) if "." in v else int(v)),
    "element": lambda seq, i: seq[i % len(seq)],
    "length": len,
    "lower": str.lower,
    "upper": str.upper,
    "join": lambda sep, seq: sep.join(str(x) for x in seq),
    "contains": lambda seq, v: v in seq,
    "keys": lambda m: sorted(m),
    "values": lambda m: [m[k] for k in sorted(m)],
    "toset": lambda s: sorted(set(s), key=str),  # sets of strings iterate in lexical order
    "tolist": list,
    "tomap": dict,
    "split": lambda sep, text: text.split(sep),
    "trimspace": str.strip,
    "replace": _replace,
    "flatten": _flatten,
    "distinct": _distinct,
    "zipmap": lambda ks, vs: dict(zip(ks, vs, strict=True)),
    "startswith": str.startswith,
    "endswith": str.endswith,
    "min": min,
    "max": max,
}


def _fail():
    raise _Fail("lookup: no such key and no default")


def _call(name: str, values: list) -> Any:
    function = _FUNCTIONS.get(name)
    if function is None:
        return UNKNOWN
    if name != "coalesce" and any(v is UNKNOWN for v in values):
        return UNKNOWN
    try:
        return function(*values)
    except _Fail:
        raise
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, AttributeError):
        raise _Fail(f"{name}: invalid arguments") from None


def _apply(op: str, left: Any, right: Any) -> Any:
    if op == "||" and (left is True or right is True):
        return True
    if op == "&&" and (left is False or right is False):
        return False
    if left is UNKNOWN or right is UNKNOWN:
        return UNKNOWN
    if op in ("||", "&&"):
        if not (isinstance(left, bool) and isinstance(right, bool)):
            raise _Fail(f"{op} needs bools")
        return left or right if op == "||" else left and right
    if op in ("==", "!="):
        return (left == right) == (op == "==")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    if not numbers:
        raise _Fail(f"{op} needs numbers")
    if op in ("/", "%") and right == 0:
        raise _Fail("division by zero")
    return {
        "<": lambda: left < right,
        "<=": lambda: left <= right,
        ">": lambda: left > right,
        ">=": lambda: left >= right,
        "+": lambda: left + right,
        "-": lambda: left - right,
        "*": lambda: left * right,
        "/": lambda: left / right,
        "%": lambda: left % right,
    }[op]()


def evaluate(value: Any, scope: Scope, *, keep_unknown: bool = False) -> Any:
    """The value of a python-hcl2 value: literals as Python values, expressions evaluated.

    An expression that cannot be evaluated gives `UNKNOWN`, or with `keep_unknown` its text.
    """
    if isinstance(value, dict):
        out = {
            _unquote(k): evaluate(v, scope, keep_unknown=keep_unknown)
            for k, v in value.items()
            if not k.startswith("__") and k != "dynamic"
        }
        dynamic = value.get("dynamic")
        for item in dynamic if isinstance(dynamic, list) else []:
            for label, block in item.items() if isinstance(item, dict) else ():
                _expand_dynamic(out, _unquote(label), block, scope, keep_unknown, item)
        return out
    if isinstance(value, list):
        return [evaluate(v, scope, keep_unknown=keep_unknown) for v in value]
    if not isinstance(value, str):
        return value
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"' and "${" not in value:
        return _unquote(value)
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        result = _template(value[1:-1], scope)
        return (value if keep_unknown else UNKNOWN) if result is UNKNOWN else result
    text = value[2:-1] if value.startswith("${") and value.endswith("}") else value
    unknown = value if keep_unknown else UNKNOWN
    try:
        parser = _Parser(text, scope)
        result = parser.expr()
    except _Fail:
        return unknown
    return unknown if result is UNKNOWN or parser.peek() is not None else result


def _expand_dynamic(
    out: dict, label: str, block: Any, scope: Scope, keep_unknown: bool, raw: dict
) -> None:
    """`dynamic "<label>" { for_each = ...; content {...} }` → the `<label>` blocks it makes,
    after any static ones; an unknown `for_each` makes `<label>` UNKNOWN (never "none")."""
    if out.get(label) is UNKNOWN:
        return
    body = block if isinstance(block, dict) else {}
    each = evaluate(body.get("for_each"), scope)
    content = body.get("content")
    content = content[0] if isinstance(content, list) and content else content
    iterator = body.get("iterator")
    name = iterator[2:-1] if isinstance(iterator, str) and iterator.startswith("${") else label
    if not isinstance(each, (list, dict)) or not isinstance(content, dict):
        if keep_unknown:
            out.setdefault("dynamic", []).append(raw)
        else:
            out[label] = UNKNOWN
        return
    pairs = sorted(each.items()) if isinstance(each, dict) else list(enumerate(each))
    blocks = out.get(label) if isinstance(out.get(label), list) else []
    for key, item in pairs:
        inner = scope.with_names(**{name: {"key": key, "value": item}})
        blocks.append(evaluate(content, inner, keep_unknown=keep_unknown))
    out[label] = blocks


def _template(body: str, scope: Scope) -> Any:
    """A string template (`"${var.region}-a"`): literal parts and interpolations, each of which
    must evaluate; else UNKNOWN. Directives (`%{ if }`) are not evaluated: UNKNOWN."""
    if "%{" in body.replace("%%{", ""):
        return UNKNOWN
    out, i = [], 0
    while i < len(body):
        start = body.find("${", i)
        while start > 0 and body[start - 1] == "$":  # $${ is a literal ${
            start = body.find("${", start + 2)
        if start < 0:
            out.append(_unescape(body[i:]))
            break
        out.append(_unescape(body[i:start]))
        try:
            j = _interpolation_end(body, start)
            parser = _Parser(body[start + 2 : j - 1].strip(), scope)
            value = parser.expr()
        except _Fail:
            return UNKNOWN
        if value is UNKNOWN or parser.peek() is not None or isinstance(value, (dict, list)):
            return UNKNOWN
        out.append(_string(value))
        i = j
    return "".join(out)


_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)|\$\$\{|%%\{", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(body: str) -> str:
    """HCL string escapes: \\n \\r \\t \\" \\\\ \\uNNNN \\UNNNNNNNN, and $${ / %%{ for literal ${ / %{."""

    def one(m: re.Match) -> str:
        token = m[0]
        if token == "$${":
            return "${"
        if token == "%%{":
            return "%{"
        code = m[1]
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, token)

    return _ESCAPE.sub(one, body)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return _unescape(text[1:-1])
    return text


def variable_defaults(document: dict) -> dict[str, Any]:
    """`variable "x" { default = ... }` → {"x": value} for every literal default."""
    out: dict[str, Any] = {}
    for item in document.get("variable", []):
        for name, body in item.items():
            if "default" in body:
                out[_unquote(name)] = evaluate(body["default"], Scope())
    return out


def expand_resources(
    document: dict,
    resource_type: str,
    *,
    resolve_variables: bool = True,
    keep_unknown: bool = False,
    variables: dict[str, Any] | None = None,
    scope: Scope | None = None,
) -> list[tuple[str, dict]]:
    """Every instance of `resource_type`, as (address, evaluated body without meta-arguments).

    `for_each` over a map, or a set or list of strings, gives one instance per key; an unknown
    `for_each` or `count` gives one body at address `<type>.<name>[*]` (instances unknown).
    `scope`: the module's (variables and locals); else `variables` (default: this document's
    declared defaults).
    """
    if scope is None:
        if variables is None:
            variables = variable_defaults(document) if resolve_variables else {}
        scope = Scope(variables)

    def ev(value: Any, scope: Scope) -> Any:
        return evaluate(value, scope, keep_unknown=keep_unknown)

    out: list[tuple[str, dict]] = []
    for item in document.get("resource", []):
        for rtype, named in item.items():
            if _unquote(rtype) != resource_type:
                continue
            for rname, body in named.items():
                address = f"{resource_type}.{_unquote(rname)}"
                attrs = {k: v for k, v in body.items() if k not in ("for_each", "count")}
                if "count" in body:
                    count = evaluate(body["count"], scope)
                    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                        for index in range(count):  # count = 0: the resource does not exist
                            inner = replace(scope, count_index=index)
                            out.append((f"{address}[{index}]", ev(attrs, inner)))
                        continue
                    out.append((f"{address}[*]", ev(attrs, scope)))  # unknown count
                elif "for_each" in body:
                    keys = evaluate(body["for_each"], scope)
                    if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
                        keys = {k: k for k in keys}  # a set of strings: each.key = each.value
                    if not isinstance(keys, dict):  # unknown: "[*]", instances unknown
                        out.append((f"{address}[*]", ev(attrs, scope)))
                        continue
                    for key, value in keys.items():
                        inner = replace(scope, each_key=key, each_value=value)
                        out.append((f'{address}["{key}"]', ev(attrs, inner)))
                else:
                    out.append((address, ev(attrs, scope)))
    return out
