"""`python -m aleph_embed.server` is `aleph-embed serve`."""

import sys

from .cli import main

sys.exit(main())
