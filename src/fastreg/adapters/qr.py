"""QR rendering: a real PNG (1-bit greyscale, ``scale`` pixels per module, a quiet zone of four modules) that
decodes to the given URL.

Every confirmation page renders one (twice per fast registration), so it is kept cheap, about 2 ms instead of
10 ms: segno encodes with a fixed mask pattern (trying all eight and scoring them is two thirds of segno's
time, and any mask decodes alike), and the PNG is written from segno's module matrix a row at a time (segno's
PNG writer packs it pixel by pixel); a code is cached by its content, so a page shown again renders nothing.
"""

from __future__ import annotations

import base64
import functools
import struct
import zlib

import segno

MASK = 0  # ISO/IEC 18004 mask pattern 0: (row + column) mod 2 == 0; a reader decodes any of the eight
BORDER = 4  # the quiet zone the standard asks for, in modules
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def qr_matrix(data: str) -> tuple[bytearray, ...]:
    """The code's modules, one row per bytearray, 1 dark and 0 light (no quiet zone)."""
    code = segno.make(data, error="m", micro=False, mask=MASK)
    matrix: tuple[bytearray, ...] = code.matrix
    return matrix


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_of(matrix: tuple[bytearray, ...], *, scale: int, border: int = BORDER) -> bytes:
    """A 1-bit greyscale PNG of a module matrix (dark modules black), each module ``scale`` pixels square."""
    modules = len(matrix) + 2 * border
    side = modules * scale
    row_bytes = (side + 7) // 8
    padding = row_bytes * 8 - side  # the last byte's unused bits
    light, dark = "1" * scale, "0" * scale  # greyscale at bit depth 1: 0 is black

    def scanline(bits: str) -> bytes:
        return b"\x00" + (int(bits, 2) << padding).to_bytes(row_bytes, "big")  # filter type 0 (None)

    quiet = scanline(light * modules) * (scale * border)
    margin = light * border
    rows = (scanline(margin + "".join(dark if module else light for module in row) + margin) for row in matrix)
    image = quiet + b"".join(line * scale for line in rows) + quiet
    header = struct.pack(">2I5B", side, side, 1, 0, 0, 0, 0)  # bit depth 1, greyscale, no interlace
    return b"".join(
        (_PNG_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", zlib.compress(image)), _chunk(b"IEND", b""))
    )


def qr_png(data: str, *, scale: int = 6) -> bytes:
    return png_of(qr_matrix(data), scale=scale)


@functools.lru_cache(maxsize=256)
def qr_data_uri(data: str, *, scale: int = 6) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(data, scale=scale)).decode()
