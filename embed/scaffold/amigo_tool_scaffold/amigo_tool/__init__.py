"""The tool's package. pyproject.toml's [tool.amigo] entrypoint names the
function in it that each invocation calls."""
