"""The old name of `aleph_embed.config`: the same module object (settings patched through either name apply)."""

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import *  # noqa: F403
else:
    from . import config

    sys.modules[__name__] = config
