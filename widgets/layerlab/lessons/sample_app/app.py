"""The lesson's sample app: print the banner `make` built, then write one line of its own.

The banner was made at build time (the `RUN make -C /app` layer). The line the app writes
goes to /app/visits.log, which is in the container's R/W layer: each container has its own.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BANNER = os.path.join(HERE, "build", "banner.txt")
LOG = os.path.join(HERE, "visits.log")


def main(argv):
    visitor = argv[1] if len(argv) > 1 else "visitor"
    try:
        with open(BANNER, encoding="utf-8") as banner:
            print(banner.read().rstrip())
    except FileNotFoundError:
        print(f"{BANNER} is missing: was `make` run when the image was built?", file=sys.stderr)
        return 1
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(f"{visitor} was here\n")
    print(f"{visitor}: wrote {os.path.getsize(LOG)} bytes to {LOG} (in my own R/W layer)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
