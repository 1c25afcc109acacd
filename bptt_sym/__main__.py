"""``python -m bptt_sym``: the same as the ``bptt-sym`` command."""

import sys

from .cli import main

sys.exit(main())
