"""``python -m lstm_demo check`` and ``python -m lstm_demo mutants``: see :mod:`lstm_demo.cli`."""

import sys

from lstm_demo.cli import main

sys.exit(main())
