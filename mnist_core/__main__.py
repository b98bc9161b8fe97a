"""`python -m mnist_core ...`: run the CLI, then end the process without the interpreter's teardown.

Tearing down an interpreter that imported torch takes about 0.5 s here (libtorch's and the CUDA
libraries' static objects are destroyed one by one), a tenth of a one-epoch `train`. Every command
has closed what it wrote before main() returns (checkpoints are fsynced), so once the streams and
logging handlers are flushed nothing is left for the teardown to do. Errors and argparse's exits
(exceptions) still leave the ordinary way.
"""

import logging
import os
import sys

from .cli import main

code = main()
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code or 0)
