"""`python -m chatbot ...`: the operators' command line (see `python -m chatbot --help`)."""

import sys

from chatbot.auth.cli import main

sys.exit(main())
