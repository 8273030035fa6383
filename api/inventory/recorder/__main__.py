"""Entry point. The recorder is one process: its metrics use their own registry, never the API's
multiprocess directory (the image sets PROMETHEUS_MULTIPROC_DIR for gunicorn)."""

import os
import sys

os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

from inventory.recorder.run import main

sys.exit(main())
