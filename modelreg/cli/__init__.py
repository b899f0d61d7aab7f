"""The `modelreg` command line: the server's commands, and the registry's, through the
public client only (`modelreg.client`)."""

from modelreg.cli._app import app, main

__all__ = ["app", "main"]
