"""``python -m skeeg2bold``: the same as the ``skeeg2bold`` command."""

import sys

from .cli import main

sys.exit(main())
