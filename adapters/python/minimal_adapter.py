#!/usr/bin/python3
"""An alias: this adapter lives in adapters/template/minimal_adapter.py now (one folder per
library, docs/architecture.md). This path, which the README and user scripts
have named, keeps working: it runs that file with the same arguments."""
import os
import runpy
import sys

target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "template/minimal_adapter.py")
sys.argv[0] = os.path.abspath(target)
sys.path.insert(0, os.path.dirname(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
