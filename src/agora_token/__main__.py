"""``python -m agora_token``: the ``agora-token`` command line."""

import sys

from .cli import main

sys.exit(main())
