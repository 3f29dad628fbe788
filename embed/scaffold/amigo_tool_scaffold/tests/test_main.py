"""Tests of the tool, run locally with `python -m pytest` from the project
folder. Publishing does not run them; it checks that every module compiles
and that the entrypoint imports."""

import importlib
import inspect
import json
import logging
import tomllib
from pathlib import Path

import pytest

from amigo_tool.main import run

PROJECT = Path(__file__).resolve().parent.parent


def test_greets_in_english_by_default():
    assert run(name="Ada") == "Hello, Ada!"


def test_greets_in_spanish():
    assert run(name=" Ada ", language="es") == "¡Hola, Ada!"


def test_simulation_marks_the_greeting(caplog):
    with caplog.at_level(logging.INFO):
        out = run(name="Ada", invocation_mode="conversation-simulation")
    assert out == "Hello, Ada! (simulated)"
    assert "simulated greeting for Ada" in caplog.text


def test_empty_name_fails():
    with pytest.raises(ValueError, match="name must not be empty"):
        run(name="  ")


def test_entrypoint_is_callable():
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    module, function = pyproject["tool"]["amigo"]["entrypoint"].split(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_input_schema_matches_the_signature():
    # input_schema.json replaces the schema derived from run's type hints,
    # so it must name the same parameters, required ones and defaults.
    schema = json.loads((PROJECT / "input_schema.json").read_text(encoding="utf-8"))
    params = {n: p for n, p in inspect.signature(run).parameters.items() if n != "invocation_mode"}
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(params)
    assert set(schema["required"]) == {n for n, p in params.items() if p.default is inspect.Parameter.empty}
    for n, p in params.items():
        if p.default is not inspect.Parameter.empty:
            assert schema["properties"][n].get("default") == p.default, n
