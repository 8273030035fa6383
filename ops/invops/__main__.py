import sys

from invops.cli import main

sys.exit(main())
