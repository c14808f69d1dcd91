"""``python -m bench.worker JOB.json RESULT.json``: the worker process (:mod:`bench.worker.process`)."""

import sys

from bench.worker.process import main

sys.exit(main(sys.argv[1:]))
