# The guest side of Compadre's tool protocol. It runs inside the sandbox as
# `python -c <this file> package.module:function`, with the tool's files on
# sys.path, and:
#
# - reads {"input_parameters": {...}, "invocation_mode": "...",
#   "nonsensitive_user_variables": {...}, "sensitive_user_variables": {...}}
#   as JSON from standard input (the user variables may be absent);
# - imports the entrypoint and calls it with the parameters as keyword
#   arguments, adding invocation_mode and each kind of user variables if
#   the function declares a parameter of that name;
# - turns a parameter's JSON object into an instance where the parameter
#   is annotated with a dataclass (also inside Optional, list or dict);
# - writes the return value to /result/output (a write-only file the host
#   keeps apart from standard output): a str as it is, anything else as
#   JSON;
# - turns logging records, print() and writes to sys.stderr into log lines;
#   whatever reaches file descriptor 1 itself (os.write(1, ...),
#   sys.__stdout__, C code) the host turns into log lines too;
# - reports an exception as a structured error, so the exception's message
#   and its stack trace are kept apart.
#
# Everything it writes to standard error is one JSON object per line:
#   {"kind": "log", "level": "INFO", "source": "logging", "logger": "x", "message": "..."}
#   {"kind": "error", "type": "ValueError", "message": "...", "traceback": "..."}
# A line that is not JSON came from below Python (C code writing to fd 2).
#
# Exit status: 0 the tool returned, 1 the tool raised, 2 the request was
# malformed. The interpreter is left with os._exit, skipping finalisation,
# since the instance is discarded after one call.

import json
import os
import sys

_real_stdout = sys.stdout
_real_stderr = sys.stderr
_RESULT_PATH = "/result/output"


def _emit(record):
    _real_stderr.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


class _LineLog:
    """A text stream that turns each line written to it into a log line."""

    def __init__(self, source, level):
        self.source = source
        self.level = level
        self.pending = ""

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not " + type(text).__name__)
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            _emit({"kind": "log", "level": self.level, "source": self.source, "message": line})
        return len(text)

    def flush(self):
        if self.pending:
            _emit({"kind": "log", "level": self.level, "source": self.source, "message": self.pending})
            self.pending = ""

    def isatty(self):
        return False

    def writable(self):
        return True

    @property
    def encoding(self):
        return "utf-8"


def _configure_logging(logging):
    class Handler(logging.Handler):
        def emit(self, record):
            try:
                message = record.getMessage()
                if record.exc_info:
                    message += "\n" + logging.Formatter().formatException(record.exc_info)
                _emit({
                    "kind": "log",
                    "level": record.levelname,
                    "source": "logging",
                    "logger": record.name,
                    "message": message,
                })
            except Exception:
                self.handleError(record)

    root = logging.getLogger()
    root.addHandler(Handler())
    # Tools log at INFO without configuring anything, and expect to be heard.
    root.setLevel(logging.INFO)


class _LoggingHook:
    """Configures logging when the tool first imports it.

    Importing logging costs about 150 ms in the sandbox, so a tool that
    never logs must not pay for it: this finder sits first on sys.meta_path,
    answers only for "logging", and wraps the real loader so the module is
    configured right after it executes."""

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        real = spec.loader

        class Loader:
            def create_module(self, spec):
                return real.create_module(spec)

            def exec_module(self, module):
                real.exec_module(module)
                _configure_logging(module)

        spec.loader = Loader()
        return spec


def _install_logging():
    if "logging" in sys.modules:
        _configure_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _LoggingHook())


def _finish(code):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    _real_stdout.flush()
    _real_stderr.flush()
    os._exit(code)


def _release(tb):
    """Frees the locals of the frames a traceback holds, keeping their code
    and line numbers. A tool that ran out of memory still holds what it
    allocated through its frames, and formatting the traceback needs memory
    of its own."""
    while tb is not None:
        try:
            tb.tb_frame.clear()
        except RuntimeError:
            pass  # a frame still executing: the harness's own
        tb = tb.tb_next


def _report(exc):
    if isinstance(exc, MemoryError):
        _release(exc.__traceback__)
    import traceback

    _emit({
        "kind": "error",
        "type": type(exc).__qualname__ if type(exc).__module__ == "builtins"
        else type(exc).__module__ + "." + type(exc).__qualname__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    })


def _accepts(func, name, via_kwargs=True):
    code = getattr(func, "__code__", None)
    if code is None:
        import inspect

        try:
            return name in inspect.signature(func).parameters
        except (TypeError, ValueError):
            return False
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    return name in names or (via_kwargs and bool(code.co_flags & 0x08))  # CO_VARKEYWORDS


def _names(annotation):
    """The dotted names in an annotation written as a string."""
    import re  # already loaded by json

    return re.findall(r"[A-Za-z_][\w.]*", annotation)


def _mentions_dataclass(hint, namespace):
    """Whether a type hint involves a dataclass, judged without typing."""
    if isinstance(hint, str):
        # A string annotation (from __future__ import annotations): look
        # its names up rather than evaluate it.
        for name in _names(hint):
            head, *rest = name.split(".")
            obj = namespace.get(head)
            for part in rest:
                obj = getattr(obj, part, None)
            if isinstance(obj, type) and hasattr(obj, "__dataclass_fields__"):
                return True
        return False
    if isinstance(hint, type):
        return hasattr(hint, "__dataclass_fields__")
    args = getattr(hint, "__args__", None)
    return isinstance(args, tuple) and any(_mentions_dataclass(a, namespace) for a in args)


def _dataclass_hints(func):
    """func's resolved type hints if a parameter involves a dataclass, else
    None. Resolving hints needs typing, which costs about 30 ms to import
    in the sandbox, so only a function that takes a dataclass pays for it;
    the check before it reads annotations that are already there."""
    try:
        annotations = getattr(func, "__annotations__", None)
        if not isinstance(annotations, dict) or not annotations:
            return None
        namespace = getattr(func, "__globals__", None) or {}
        if not any(_mentions_dataclass(hint, namespace)
                   for name, hint in annotations.items() if name != "return"):
            return None
        import typing

        return typing.get_type_hints(func)
    except Exception:
        # Hints that do not resolve are no reason to refuse the call: the
        # function gets the JSON values as they are.
        return None


def _from_json(hint, value, typing):
    """value, with each JSON object that hint says is a dataclass turned
    into an instance of it."""
    import collections.abc as abc  # already loaded at start-up

    if value is None or hint is None:
        return value
    if isinstance(hint, type):
        if hasattr(hint, "__dataclass_fields__") and isinstance(value, dict):
            fields = typing.get_type_hints(hint)
            return hint(**{k: _from_json(fields.get(k), v, typing) for k, v in value.items()})
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union:
        for arg in args:
            if arg is type(None) or not _mentions_dataclass(arg, {}):
                continue
            try:
                return _from_json(arg, value, typing)
            except TypeError:
                continue  # the value has another alternative's shape
        return value
    if not args:
        return value
    if origin is tuple and isinstance(value, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v, typing) for v in value)
        return tuple(_from_json(a, v, typing) for a, v in zip(args, value)) + tuple(value[len(args):])
    if origin in (list, abc.Sequence, abc.MutableSequence) and isinstance(value, list):
        return [_from_json(args[0], v, typing) for v in value]
    if origin in (dict, abc.Mapping, abc.MutableMapping) and isinstance(value, dict) and len(args) == 2:
        return {k: _from_json(args[1], v, typing) for k, v in value.items()}
    return value


def _main():
    sys.path.append("/tool")
    try:
        spec = sys.argv[1]
        module_name, func_name = spec.split(":", 1)
        request = json.loads(sys.stdin.buffer.read() or b"{}")
        params = request.get("input_parameters") or {}
        mode = request.get("invocation_mode", "regular")
        if not isinstance(params, dict):
            raise TypeError("input_parameters must be an object")
        platform = {"invocation_mode": mode}
        for name in ("nonsensitive_user_variables", "sensitive_user_variables"):
            variables = request.get(name) or {}
            if not isinstance(variables, dict):
                raise TypeError(name + " must be an object")
            platform[name] = variables
    except Exception as exc:
        _report(exc)
        _finish(2)

    try:
        result = os.open(_RESULT_PATH, os.O_WRONLY)
    except OSError as exc:
        _report(exc)
        _finish(2)

    _install_logging()
    sys.stdout = _LineLog("stdout", "INFO")
    sys.stderr = _LineLog("stderr", "WARNING")
    try:
        __import__(module_name)
        func = sys.modules[module_name]
        for part in func_name.split("."):
            func = getattr(func, part)
        kwargs = dict(params)
        hints = _dataclass_hints(func)
        if hints:
            import typing

            for name, value in kwargs.items():
                kwargs[name] = _from_json(hints.get(name), value, typing)
        for name, value in platform.items():
            # Sensitive values go only to a function that names the
            # parameter, never into a catch-all **kwargs.
            if _accepts(func, name, name != "sensitive_user_variables"):
                kwargs[name] = value
        value = func(**kwargs)
        output = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        # Encoded as standard output would have encoded it.
        data = output.encode("utf-8", getattr(_real_stdout, "errors", None) or "strict")
    except BaseException as exc:
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            exc = RuntimeError("the tool called sys.exit() instead of returning")
        _report(exc)
        _finish(1)
    while data:
        data = data[os.write(result, data):]
    _finish(0)


_main()
