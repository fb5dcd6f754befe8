"""`python -m sublim.assets`: fetch and verify the offline asset files (see `sublim.assets.prepare`)."""

import sys

from sublim.assets.prepare import main

sys.exit(main())
