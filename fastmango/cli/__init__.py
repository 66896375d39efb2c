"""The ``fastmango`` command line. Each command imports the layer it needs inside its body."""

from fastmango.cli.main import app, main

__all__ = ["app", "main"]
