"""A small PNG reader for screenshot checks: 8-bit RGB or RGBA, not interlaced.

Enough for Chromium's screenshots, so the tests need no imaging library; numpy (a
dependency of datasketch) undoes the common row filters quickly.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path: Path) -> NDArray[np.uint8]:
    """The image as an array of shape (height, width, 3): RGB, alpha dropped."""
    data = path.read_bytes()
    if not data.startswith(_SIGNATURE):
        raise ValueError(f"{path} is not a PNG file")
    pos, idat, header = len(_SIGNATURE), bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    if header is None:
        raise ValueError(f"{path} has no IHDR chunk")
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or color not in (2, 6) or interlace:
        raise ValueError(f"{path}: only 8-bit RGB(A) without interlacing is read here")
    bpp = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(bytes(idat)), dtype=np.uint8)
    rows = raw.reshape(height, width * bpp + 1)
    image = np.zeros((height, width * bpp), dtype=np.uint8)
    previous = np.zeros(width * bpp, dtype=np.int64)
    for y in range(height):
        line = rows[y, 1:].astype(np.int64)
        current = _unfilter(int(rows[y, 0]), line, previous, bpp)
        image[y] = current
        previous = current
    return image.reshape(height, width, bpp)[:, :, :3]


def _unfilter(
    kind: int, line: NDArray[np.int64], up: NDArray[np.int64], bpp: int
) -> NDArray[np.int64]:
    if kind == 0:
        return line
    if kind == 1:  # Sub: a running sum per channel
        return np.cumsum(line.reshape(-1, bpp), axis=0).reshape(-1) % 256
    if kind == 2:  # Up
        return (line + up) % 256
    # Average and Paeth depend on the pixel just decoded: byte by byte.
    out = [0] * len(line)
    above = up.tolist()
    for i, value in enumerate(line.tolist()):
        left = out[i - bpp] if i >= bpp else 0
        if kind == 3:
            out[i] = (value + (left + above[i]) // 2) % 256
            continue
        upper_left = above[i - bpp] if i >= bpp else 0
        estimate = left + above[i] - upper_left
        da, db, dc = abs(estimate - left), abs(estimate - above[i]), abs(estimate - upper_left)
        predictor = left if da <= db and da <= dc else above[i] if db <= dc else upper_left
        out[i] = (value + predictor) % 256
    return np.array(out, dtype=np.int64)
