"""`python -m gunwatch` runs the same CLI as the `gunwatch` command."""

import sys

from .cli import main

sys.exit(main())
