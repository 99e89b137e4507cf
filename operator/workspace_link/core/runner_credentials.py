"""How a runner gets its credentials: two files in one directory, never arguments or env values.

The per-execution runner Secret holds the keys ``TOKEN`` and ``URL``. A Job mounts the Secret
as a read-only volume at ``JOB_DIR`` (each key becomes a file of that name); the process
executor writes the same two files into a private temp dir. Either way ``DIR_ENV`` names the
directory and the runner (``workspace_link.runner``) reads the files there. Only the path sits
in the environment: ``ps`` and ``kubectl describe`` show env and arguments, not file contents.
"""

from __future__ import annotations

from typing import Final

#: The Secret key and file name of the bearer token (``<execution-name>.<random>``).
TOKEN: Final = "token"  # noqa: S105 - the name of the key, not a secret
#: The Secret key and file name of the runner API's URL.
URL: Final = "url"
#: The environment variable naming the directory that holds both files.
DIR_ENV: Final = "WL_RUNNER_CREDENTIALS"
#: Where a Job mounts the runner Secret (and where the runner looks when DIR_ENV is unset).
JOB_DIR: Final = "/var/run/workspace-link"
