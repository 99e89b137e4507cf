"""``python -m workspace_link.cli``: the same as the ``workspace-link`` command."""

import sys

from workspace_link.cli.commands import main

sys.exit(main())
