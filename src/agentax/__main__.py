"""`python -m agentax` is the `agentax` command."""

import sys

from agentax.cli import main

sys.exit(main())
