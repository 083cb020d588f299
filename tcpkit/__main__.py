"""``python -m tcpkit``: the same as the ``tcpkit`` command."""

import sys

from .cli import main

sys.exit(main())
