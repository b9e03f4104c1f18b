"""``python -m framework.tracking``: the tracking store's tools (``upload``, ``repair``), in
:mod:`framework.command.store_tools`."""

import sys

from framework.command.store_tools import main

sys.exit(main())
