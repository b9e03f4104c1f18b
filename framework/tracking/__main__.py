"""``python -m framework.tracking``: the store's tools (upload, repair, rerun, diff), in :mod:`framework.command.store_tools`."""

import sys

from framework.command.store_tools import main

sys.exit(main())
