"""The tool's entrypoint. Replace the example with your own tool, keeping
[tool.amigo] entrypoint in pyproject.toml and input_schema.json in step."""

import logging
from typing import Literal

logger = logging.getLogger(__name__)

GREETINGS = {
    "en": "Hello, {name}!",
    "es": "¡Hola, {name}!",
}


def run(name: str, language: Literal["en", "es"] = "en", invocation_mode: str = "regular") -> str:
    """Greet a person by name, in English or Spanish.

    In conversation-simulation mode the greeting is marked as simulated: a
    real tool would use test data there instead of causing side effects.
    """
    cleaned = name.strip()
    if not cleaned:
        # An exception fails the invocation; its type, message and stack
        # trace are what the caller sees.
        raise ValueError("name must not be empty")
    greeting = GREETINGS[language].format(name=cleaned)
    if invocation_mode == "conversation-simulation":
        logger.info("simulated greeting for %s in %s", cleaned, language)
        return greeting + " (simulated)"
    logger.info("greeting %s in %s", cleaned, language)
    return greeting
