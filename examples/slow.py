#!/usr/bin/env python3
"""A slow export, to see a run in progress and, past its 20s timeout, a ``timed_out`` one."""

import argparse
import json
import random
import time

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=None)
steps = parser.parse_args().steps or random.randint(8, 30)
for step in range(1, steps + 1):
    time.sleep(1)
    print(
        "@jobwatch " + json.dumps({"processed": step, "message": f"step {step}/{steps}"}),
        flush=True,
    )
