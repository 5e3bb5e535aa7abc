"""The QR codes of the confirmation pages: a real PNG, which zxing-cpp decodes to the URL, pixel for pixel the
image segno itself draws of the same code, and well-formed (signature, IHDR, chunk CRCs, IEND). Through HTTP,
``tests/api/test_api_pages.py`` and ``tests/e2e/test_e2e_wechatpy.py`` decode the pages' codes."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
import segno
import zxingcpp
from PIL import Image

from fastreg.adapters.qr import BORDER, MASK, qr_data_uri, qr_png

URLS = [
    "http://127.0.0.1:8000/m/confirm/c_7Jx3kQe9Zp2LmN4vB8sT1yU6wR0aD5fG",
    "https://fastreg.example.com/m/confirm/" + "x" * 300,  # a larger version
    "https://例子.example/m/confirm/確認",  # bytes beyond ASCII
    "a",
]


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """The PNG's chunks, each one's CRC checked."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    found, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind, data = png[offset + 4 : offset + 8], png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + data), kind
        found.append((kind, data))
        offset += 12 + length
    return found


@pytest.mark.parametrize("url", URLS)
def test_the_png_decodes_to_the_url(url: str) -> None:
    [result] = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png(url))))
    assert result.text == url and result.format == zxingcpp.BarcodeFormat.QRCode


@pytest.mark.parametrize("url", URLS)
def test_the_png_is_segnos_own_drawing_of_the_code(url: str) -> None:
    ours = Image.open(io.BytesIO(qr_png(url, scale=6)))
    drawn = io.BytesIO()
    segno.make(url, error="m", micro=False, mask=MASK).save(drawn, kind="png", scale=6, border=BORDER)
    theirs = Image.open(drawn)
    assert ours.size == theirs.size
    assert ours.convert("L").tobytes() == theirs.convert("L").tobytes()


def test_the_png_is_well_formed() -> None:
    png = qr_png(URLS[0], scale=6)
    found = chunks(png)
    assert [kind for kind, _ in found] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">2I5B", found[0][1])
    modules = segno.make(URLS[0], error="m", micro=False).symbol_size(border=BORDER)[0]
    assert width == height == modules * 6
    assert (depth, colour, compression, filtering, interlace) == (1, 0, 0, 0, 0)  # 1-bit greyscale
    scanlines = zlib.decompress(found[1][1])
    assert len(scanlines) == height * (1 + (width + 7) // 8)


def test_the_data_uri_carries_the_png_and_a_code_is_drawn_once() -> None:
    uri = qr_data_uri(URLS[0])
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.removeprefix("data:image/png;base64,")) == qr_png(URLS[0])
    assert qr_data_uri(URLS[0]) is uri  # a page shown again (a reload, the wizard's steps) reuses it
