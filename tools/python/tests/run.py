#!/usr/bin/python3
"""Run test modules of tools/python/tests with this interpreter:

    /usr/bin/python3 tools/python/tests/run.py test_offline [test_client ...]

after checking that it has the two modules the povtrack package needs.
ctest runs it with Debian's /usr/bin/python3 (tools/python/tests/
CMakeLists.txt); a python3 first on PATH (a pyenv, a venv) may lack them.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True  # nothing written into the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

missing = []
for name in ("zmq", "msgpack"):
    try:
        __import__(name)
    except ImportError:
        missing.append(name)
if missing:
    sys.exit(f"{sys.executable} has no module {', '.join(missing)}: the "
             f"povtrack package needs Debian's python3-zmq and "
             f"python3-msgpack (apt-get install python3-zmq python3-msgpack, "
             f"as tools/scripts/deps.sh does); run the tests with "
             f"/usr/bin/python3")

unittest.main(module=None, argv=[sys.argv[0], "-v"] + sys.argv[1:])
