"""``python -m bptt_sym``: the same as the ``bptt-sym`` command."""

import sys

from bptt_sym.cli.main import main

sys.exit(main())
