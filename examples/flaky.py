#!/usr/bin/env python3
"""A feed refresh that fails now and then, so dashboards and alerts have failures to show."""

import random
import sys

if random.random() < 0.4:
    print("upstream feed answered 503 Service Unavailable", file=sys.stderr, flush=True)
    raise SystemExit(1)
print('@jobwatch {"processed": 20, "updated": 20}', flush=True)
