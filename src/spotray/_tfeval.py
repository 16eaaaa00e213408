"""Evaluate the Terraform that node-pool files use, without guessing.

python-hcl2 gives expressions as text (`${try(each.value["spot"], false)}`). This module evaluates
literals, string templates (`"${var.region}-a"`), `var.x` (the module's variable values),
`each.key`/`each.value`, `count.index`, attribute and index access, Terraform's operators
(`?:`, `||`, `&&`, `==`, `!=`, comparisons, arithmetic) and the functions pool code uses (`try`,
`lookup`, `merge`, `concat`, `format`, `coalesce`, `element`, `length`, ...). Anything else, and
anything that depends on it, evaluates to `UNKNOWN`, which callers report rather than guess.

`expand_resources` turns a `count` or `for_each` resource into one body per instance (none for
`count = 0`), with every expression it can evaluate replaced by its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
    r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!?:+\-*/%])
  | (?P<punct>[()\[\],.])
)""",
    re.X,
)


class _Fail(Exception):
    pass


@dataclass
class Scope:
    """What names mean while evaluating: `each` and declared variable defaults."""

    variables: dict[str, Any] = field(default_factory=dict)
    each_key: Any = UNKNOWN
    each_value: Any = UNKNOWN
    count_index: Any = UNKNOWN


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _Fail(text[pos:])
        kind = m.lastgroup or ""
        out.append((kind, m[kind]))
        pos = m.end()
    return out


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
            return _unescape(value[1:-1])
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind != "name":
            raise _Fail(value)
        if value in ("true", "false"):
            return value == "true"
        if value == "null":
            return None
        if self.peek() == ("punct", "("):
            return self.postfix(self.call(value))
        return self.traversal(value)

    def call(self, name: str) -> Any:
        self.take("(")
        args: list[str] = []
        depth, start = 0, self.i
        while True:  # split the raw argument tokens; evaluate lazily (try() needs that)
            kind, value = self.take()
            if value in "([" and kind == "punct":
                depth += 1
            elif value in ")]" and kind == "punct":
                if depth == 0:
                    args.append(self.toks[start : self.i - 1])
                    break
                depth -= 1
            elif value == "," and depth == 0:
                args.append(self.toks[start : self.i - 1])
                start = self.i
        if name != "try":
            values = []
            for arg in args:
                if not arg:
                    continue
                sub = _Parser("", self.scope)
                sub.toks = arg
                value = sub.expr()  # a failure fails the call, as in Terraform
                if sub.peek() is not None:
                    raise _Fail(f"{name}: unexpected {sub.peek()[1]!r}")
                values.append(value)
            return _call(name, values)
        for arg in args:
            sub = _Parser("", self.scope)
            sub.toks = arg
            try:
                result = sub.expr()
            except _Fail:
                continue
            if result is not UNKNOWN and sub.peek() is None:
                return result
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
                out.append("true" if value is True else "false" if value is False else str(value))
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
    "tostring": lambda v: "true" if v is True else "false" if v is False else str(v),
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
        return {
            _unquote(k): evaluate(v, scope, keep_unknown=keep_unknown)
            for k, v in value.items()
            if not k.startswith("__")
        }
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
        depth, j = 1, start + 2
        while j < len(body) and depth:
            depth += {"{": 1, "}": -1}.get(body[j], 0)
            j += 1
        if depth:
            return UNKNOWN
        try:
            parser = _Parser(body[start + 2 : j - 1].strip(), scope)
            value = parser.expr()
        except _Fail:
            return UNKNOWN
        if value is UNKNOWN or parser.peek() is not None or isinstance(value, (dict, list)):
            return UNKNOWN
        out.append("true" if value is True else "false" if value is False else str(value))
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
) -> list[tuple[str, dict]]:
    """Every instance of `resource_type`, as (address, evaluated body without meta-arguments).

    `for_each` over a literal map (or a variable's value) gives one instance per key.
    `variables`: the module's variable values (default: this document's declared defaults).
    """
    if variables is None:
        variables = variable_defaults(document) if resolve_variables else {}

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
                    count = evaluate(body["count"], Scope(variables))
                    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                        for index in range(count):  # count = 0: the resource does not exist
                            scope = Scope(variables, count_index=index)
                            out.append((f"{address}[{index}]", ev(attrs, scope)))
                        continue
                    out.append((address, ev(attrs, Scope(variables))))  # unknown count
                elif "for_each" in body:
                    keys = evaluate(body["for_each"], Scope(variables))
                    if not isinstance(keys, dict):
                        out.append((address, ev(attrs, Scope(variables))))
                        continue
                    for key, value in keys.items():
                        scope = Scope(variables, each_key=key, each_value=value)
                        out.append((f'{address}["{key}"]', ev(attrs, scope)))
                else:
                    out.append((address, ev(attrs, Scope(variables))))
    return out
