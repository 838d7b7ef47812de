import sys

from forum.cli import main

sys.exit(main())
