"""``python -m api.cli`` runs ``gridpatrol``."""

import sys

from api.cli.app import main

sys.exit(main())
