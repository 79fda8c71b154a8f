"""``python -m atlas_lab up|down|status [--dir DIR]`` (see :mod:`atlas_lab.cli`)."""

import sys

from atlas_lab.cli import main

sys.exit(main())
