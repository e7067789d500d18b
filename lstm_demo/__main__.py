"""``python -m lstm_demo check``: see :mod:`lstm_demo.cli`."""

import sys

from lstm_demo.cli import main

sys.exit(main())
