"""Draw a box around the lines of a text file (run by `make` while the image builds)."""

import sys


def banner(lines):
    width = max(len(line) for line in lines)
    top = "+" + "-" * (width + 2) + "+"
    body = [f"| {line:<{width}} |" for line in lines]
    return "\n".join([top, *body, top])


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        text = [line.rstrip("\n") for line in source if line.strip()]
    print(banner(text))
