"""``python -m fakeweb_cli`` is the same as the ``fakeweb`` console script."""

import sys

from fakeweb_cli.main import main

sys.exit(main())
