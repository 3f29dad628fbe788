# The guest side of Compadre's tool protocol. It runs inside the sandbox as
# `python -c <this file> package.module:function`, with the tool's files on
# sys.path, and:
#
# - reads {"input_parameters": {...}, "invocation_mode": "..."} as JSON from
#   standard input;
# - imports the entrypoint and calls it with the parameters as keyword
#   arguments, adding invocation_mode if the function declares it;
# - writes the return value to standard output: a str as it is, anything
#   else as JSON;
# - turns logging records, print() and writes to sys.stderr into log lines;
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


def _report(exc):
    import traceback

    _emit({
        "kind": "error",
        "type": type(exc).__qualname__ if type(exc).__module__ == "builtins"
        else type(exc).__module__ + "." + type(exc).__qualname__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    })


def _accepts(func, name):
    code = getattr(func, "__code__", None)
    if code is None:
        import inspect

        try:
            return name in inspect.signature(func).parameters
        except (TypeError, ValueError):
            return False
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    return name in names or bool(code.co_flags & 0x08)  # CO_VARKEYWORDS


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
    except Exception as exc:
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
        if _accepts(func, "invocation_mode"):
            kwargs["invocation_mode"] = mode
        value = func(**kwargs)
        output = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    except BaseException as exc:
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            exc = RuntimeError("the tool called sys.exit() instead of returning")
        _report(exc)
        _finish(1)
    _real_stdout.write(output)
    _finish(0)


_main()
