# The build step of a tool project. It runs inside the sandbox when a tool
# is published, as `python build.py package.module:function [--no-schema]`
# with the project's files at /tool, and:
#
# - compiles every *.py under /tool, so a syntax error in any module is
#   found at publication rather than at the call that first imports it;
# - imports the entrypoint's module and finds the function;
# - unless --no-schema is given, derives the tool's input JSON Schema from
#   the function's keyword parameters and their type hints.
#
# It writes one JSON object, on a line of its own, to standard output:
#   {"problems": ["weather/main.py:12: invalid syntax"],
#    "input_schema": {...} or null, "modules": 3}
# Problems are sentences for the tool's author. input_schema is null when
# there is any problem or when --no-schema is given. Exit status: 0 with a
# report, 2 if the program's own arguments are malformed.
#
# The sandbox's interpreter runs about 14 times slower than a native one,
# so this imports only what it needs: inspect and typing (about 80 ms
# together); json, enum and dataclasses are already loaded at start-up.

import dataclasses
import enum
import io
import json
import os
import sys

TOOL = "/tool"

# Parameters the platform fills in itself; a caller never supplies them,
# so they are no part of the input schema.
PLATFORM_PARAMETERS = frozenset(
    ("invocation_mode", "nonsensitive_user_variables", "sensitive_user_variables"))

SUPPORTED = ("use str, int, float, bool, None, Any, list, tuple, set, dict[str, ...], "
             "Literal, an Enum, a TypedDict, a dataclass, or a union of these")

_NO_VALUE = object()


class Unsupported(Exception):
    """A type hint with no JSON Schema equivalent, found at path."""

    def __init__(self, hint, path, why=""):
        super().__init__(hint, path, why)
        self.hint = hint
        self.path = path
        self.why = why


def type_name(hint):
    if isinstance(hint, type):
        if hint.__module__ == "builtins":
            return hint.__qualname__
        return hint.__module__ + "." + hint.__qualname__
    return repr(hint)


def exception_name(exc):
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return kind.__module__ + "." + kind.__qualname__


def describe_exception(exc):
    message = str(exc)
    return exception_name(exc) + (": " + message if message else "")


def compile_project(problems):
    """Compiles every module of the project; returns how many compiled and
    the paths of those that did not."""
    compiled = 0
    broken = set()
    for root, dirs, files in os.walk(TOOL):
        # Hidden folders (.venv, .git) are not the tool's modules.
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = root + "/" + name
            relative = path[len(TOOL) + 1:]
            try:
                with open(path, "rb") as f:
                    source = f.read()
                compile(source, relative, "exec")
            except SyntaxError as exc:
                where = relative if exc.lineno is None else "%s:%d" % (relative, exc.lineno)
                problems.append("%s: %s" % (where, exc.msg))
                broken.add(path)
            except (ValueError, OSError) as exc:
                # ValueError: the source holds a null byte.
                problems.append("%s: %s" % (relative, exc))
                broken.add(path)
            else:
                compiled += 1
    return compiled, broken


def import_problem(module_name, exc, broken):
    """The problem to report for an exception raised while importing the
    entrypoint's module, or None if it was reported already."""
    if isinstance(exc, SyntaxError) and exc.filename in broken:
        return None
    # The last frame in the project's own files is where its author can act.
    where = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(TOOL + "/"):
            where = "%s:%d" % (filename[len(TOOL) + 1:], tb.tb_lineno)
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.filename and exc.filename.startswith(TOOL + "/"):
        where = "%s:%s" % (exc.filename[len(TOOL) + 1:], exc.lineno)
    if where is None and isinstance(exc, ModuleNotFoundError) and exc.name and (
            module_name == exc.name or module_name.startswith(exc.name + ".")):
        missing = exc.name.replace(".", "/")
        return "the entrypoint's module %s is not in the project: there is no %s.py or %s/__init__.py" % (
            module_name, missing, missing)
    if isinstance(exc, SystemExit):
        what = "called sys.exit()"
    else:
        what = "raised " + describe_exception(exc)
    problem = "importing %s %s" % (module_name, what)
    return problem if where is None else where + ": " + problem


def load_entrypoint(module_name, attribute, problems, broken):
    """Imports the entrypoint's module and returns the function, or None
    after reporting why it cannot."""
    real_stdout, real_stderr = sys.stdout, sys.stderr
    # A tool that prints while it is imported must not corrupt the report.
    sys.stdout = sys.stderr = io.StringIO()
    try:
        __import__(module_name)
        obj = sys.modules[module_name]
    except MemoryError:
        # Most likely the sandbox's memory cap: the build fails as a run
        # past its limit, which the host reports as such, rather than as
        # a problem in the project.
        raise
    except BaseException as exc:
        problem = import_problem(module_name, exc, broken)
        if problem is not None:
            problems.append(problem)
        return None
    finally:
        sys.stdout, sys.stderr = real_stdout, real_stderr
    owner = "module " + module_name
    parts = attribute.split(".")
    for i, part in enumerate(parts):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            problems.append("%s defines no %s, which the entrypoint %s:%s names" % (
                owner, part, module_name, attribute))
            return None
        except Exception as exc:
            problems.append("reading %s from %s raised %s" % (part, owner, describe_exception(exc)))
            return None
        owner = module_name + "." + ".".join(parts[:i + 1])
    if not callable(obj):
        problems.append("the entrypoint %s:%s is a %s, not a function" % (
            module_name, attribute, type(obj).__name__))
        return None
    return obj


def json_value(value):
    """value as JSON would carry it, or _NO_VALUE if JSON cannot."""
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return _NO_VALUE


class SchemaBuilder:
    """Maps type hints to JSON Schema. It holds the modules it needs, which
    are imported only when a schema is asked for."""

    def __init__(self):
        import collections.abc
        import types
        import typing

        self.typing = typing
        self.scalars = ((str, "string"), (bool, "boolean"), (int, "integer"), (float, "number"))
        self.unions = (typing.Union, types.UnionType)
        self.wrappers = tuple(getattr(typing, name) for name in ("Required", "NotRequired", "ReadOnly")
                              if hasattr(typing, name))
        abc = collections.abc
        self.sequences = (list, abc.Sequence, abc.MutableSequence)
        self.sets = (set, frozenset, abc.Set, abc.MutableSet)
        self.mappings = (dict, abc.Mapping, abc.MutableMapping)
        # The TypedDicts and dataclasses being described, to refuse one
        # that contains itself rather than recurse forever.
        self.open = []

    def of(self, hint, path):
        typing = self.typing
        if hint is typing.Any:
            return {}
        if hint is None or hint is type(None):
            return {"type": "null"}
        for scalar, name in self.scalars:
            if hint is scalar:
                return {"type": name}
        if isinstance(hint, typing.TypeAliasType):
            return self.of(hint.__value__, path)
        if isinstance(hint, typing.NewType):
            return self.of(hint.__supertype__, path)
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin is typing.Annotated:
            schema = self.of(args[0], path)
            description = next((m for m in hint.__metadata__ if isinstance(m, str)), None)
            if description:
                schema = dict(schema, description=description)
            return schema
        if origin is not None and origin in self.wrappers:
            return self.of(args[0], path)
        if origin is typing.Literal:
            return self.enum(list(args), hint, path)
        if origin in self.unions:
            return {"anyOf": [self.of(arg, path) for arg in args]}
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return self.enum([member.value for member in hint], hint, path)
        container = origin if origin is not None else hint
        if container in self.sequences:
            schema = {"type": "array"}
            if args:
                schema["items"] = self.of(args[0], path + "[*]")
            return schema
        if container is tuple:
            schema = {"type": "array"}
            if len(args) == 2 and args[1] is Ellipsis:
                schema["items"] = self.of(args[0], path + "[*]")
            elif args:
                schema["prefixItems"] = [self.of(arg, "%s[%d]" % (path, i)) for i, arg in enumerate(args)]
                schema["minItems"] = schema["maxItems"] = len(args)
            return schema
        if container in self.sets:
            schema = {"type": "array", "uniqueItems": True}
            if args:
                schema["items"] = self.of(args[0], path + "[*]")
            return schema
        if container in self.mappings:
            schema = {"type": "object"}
            if args:
                if args[0] is not str and args[0] is not typing.Any:
                    raise Unsupported(hint, path, "whose keys are not str: JSON object keys are strings")
                schema["additionalProperties"] = self.of(args[1], path + "[*]")
            return schema
        if typing.is_typeddict(hint):
            return self.record(hint, path, self.typeddict_fields(hint))
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.record(hint, path, self.dataclass_fields(hint))
        raise Unsupported(hint, path)

    def enum(self, values, hint, path):
        converted = [json_value(v) for v in values]
        if any(v is _NO_VALUE for v in converted):
            raise Unsupported(hint, path, "whose values are not all str, int, float, bool or None")
        schema = {"enum": converted}
        names = {self.json_type(v) for v in converted}
        if len(names) == 1 and None not in names:
            schema = {"type": names.pop(), "enum": converted}
        return schema

    @staticmethod
    def json_type(value):
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "integer"
        if isinstance(value, float):
            return "number"
        if isinstance(value, str):
            return "string"
        return None

    def typeddict_fields(self, hint):
        hints = self.typing.get_type_hints(hint, include_extras=True)
        return [(name, field, name in hint.__required_keys__, _NO_VALUE) for name, field in hints.items()]

    def dataclass_fields(self, hint):
        hints = self.typing.get_type_hints(hint, include_extras=True)
        fields = []
        for field in dataclasses.fields(hint):
            if not field.init:
                continue  # the constructor does not take it
            required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
            default = _NO_VALUE if field.default is dataclasses.MISSING else json_value(field.default)
            fields.append((field.name, hints.get(field.name, field.type), required, default))
        return fields

    def record(self, hint, path, fields):
        if any(seen is hint for seen in self.open):
            raise Unsupported(hint, path, "which contains itself: recursive types are not supported")
        self.open.append(hint)
        try:
            properties = {}
            required = []
            for name, field, is_required, default in fields:
                schema = self.of(field, path + "." + name)
                if default is not _NO_VALUE:
                    schema = dict(schema, default=default)
                properties[name] = schema
                if is_required:
                    required.append(name)
        finally:
            self.open.pop()
        return {"type": "object", "properties": properties, "required": required,
                "additionalProperties": False}


def hint_owner(func):
    """What holds the type hints of func's parameters."""
    import inspect

    if inspect.isclass(func):
        return func.__init__
    if inspect.isroutine(func):
        return func
    return getattr(type(func), "__call__", func)


def derive_schema(func, entrypoint, problems):
    """The input schema of func, or None after reporting why there is none."""
    import annotationlib
    import inspect

    builder = SchemaBuilder()
    try:
        # FORWARDREF: a name that does not resolve is reported by
        # get_type_hints below, in its own words.
        signature = inspect.signature(func, annotation_format=annotationlib.Format.FORWARDREF)
    except (TypeError, ValueError) as exc:
        problems.append("the parameters of %s cannot be read: %s" % (entrypoint, exc))
        return None
    try:
        hints = builder.typing.get_type_hints(hint_owner(func), include_extras=True)
    except Exception as exc:
        problems.append("the type hints of %s cannot be evaluated: %s" % (entrypoint, describe_exception(exc)))
        return None
    before = len(problems)
    properties = {}
    required = []
    any_keyword = False
    for p in signature.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            any_keyword = True
            continue
        if p.kind is p.VAR_POSITIONAL:
            problems.append("parameter *%s: a tool is called with keyword arguments only, so it cannot take *%s"
                            % (p.name, p.name))
            continue
        if p.kind is p.POSITIONAL_ONLY:
            problems.append("parameter %s is positional-only (it comes before /): a tool is called with "
                            "keyword arguments only" % p.name)
            continue
        if p.name in PLATFORM_PARAMETERS:
            continue
        if p.name not in hints:
            problems.append("parameter %s has no type hint, so its schema cannot be derived: annotate it, "
                            "e.g. %s: str" % (p.name, p.name))
            continue
        try:
            schema = builder.of(hints[p.name], p.name)
        except Unsupported as exc:
            at = "" if exc.path == p.name else " at " + exc.path
            why = exc.why or "which has no JSON Schema equivalent; " + SUPPORTED
            problems.append("parameter %s has type %s%s, %s" % (p.name, type_name(exc.hint), at, why))
            continue
        except Exception as exc:
            problems.append("parameter %s: its type hint cannot be read: %s" % (p.name, describe_exception(exc)))
            continue
        if p.default is p.empty:
            required.append(p.name)
        else:
            default = json_value(p.default)
            if default is not _NO_VALUE:
                schema = dict(schema, default=default)
        properties[p.name] = schema
    if len(problems) > before:
        return None
    schema = {"type": "object"}
    description = inspect.getdoc(func)
    if description:
        schema["description"] = description
    schema["properties"] = properties
    schema["required"] = required
    schema["additionalProperties"] = any_keyword
    return schema


def main(argv):
    args = list(argv[1:])
    derive = "--no-schema" not in args
    args = [a for a in args if a != "--no-schema"]
    if len(args) != 1 or args[0].count(":") != 1 or not all(args[0].split(":")):
        sys.stderr.write("usage: build.py package.module:function [--no-schema]\n")
        sys.exit(2)
    entrypoint = args[0]
    module_name, attribute = entrypoint.split(":")
    if TOOL not in sys.path:
        sys.path.append(TOOL)
    # /tool is read-only; do not try to write __pycache__ into it.
    sys.dont_write_bytecode = True
    out = sys.stdout
    problems = []
    schema = None
    modules, broken = compile_project(problems)
    func = load_entrypoint(module_name, attribute, problems, broken)
    if func is not None and derive:
        try:
            schema = derive_schema(func, entrypoint, problems)
        except Exception as exc:
            problems.append("the input schema of %s cannot be derived: %s" % (entrypoint, describe_exception(exc)))
    report = {"problems": problems, "input_schema": schema if not problems else None, "modules": modules}
    # The leading newline ends any line the tool wrote below Python.
    out.write("\n" + json.dumps(report, ensure_ascii=False) + "\n")
    out.flush()
    # Leave without running the tool's atexit handlers, which could write
    # after the report; the instance is discarded anyway.
    os._exit(0)


main(sys.argv)
