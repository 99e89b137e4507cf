"""The ``workspace-link`` command: argument parsing, the demo, the link manifests, local runs."""

from workspace_link.cli.commands import main

__all__ = ["main"]
