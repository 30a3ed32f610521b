#!/usr/bin/env python3
"""A stand-in CRM contact sync that speaks jobwatch's progress protocol.

It prints ``@jobwatch {json}`` lines with cumulative totals, the way a real
``manage.py sync_hubspot_contacts`` would after each batch.
"""

import argparse
import json
import random
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--start-date")
    parser.add_argument("--total", type=int, default=500)
    args = parser.parse_args()
    total = args.total * (2 if args.full else 1)
    done = created = updated = failed = 0
    print(f"syncing {total} contacts in batches of {args.batch_size}", flush=True)
    while done < total:
        batch = min(args.batch_size, total - done)
        done += batch
        created += batch // 4
        updated += batch - batch // 4 - (1 if random.random() < 0.1 else 0)
        failed = done - created - updated
        progress = {"processed": done, "created": created, "updated": updated, "failed": failed}
        print(
            "@jobwatch " + json.dumps({**progress, "message": f"batch ending at {done}"}),
            flush=True,
        )
        time.sleep(0.2)
    print("sync finished", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
