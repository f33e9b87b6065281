"""A tiny site that draws flow graphs with the `flow-graph` directive."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

project = "flow-graph test"
extensions = ["prefect_by_example.sphinxext.flowgraph"]
exclude_patterns = ["_build"]
