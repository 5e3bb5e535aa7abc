"""QR rendering: a real PNG that decodes to the given URL."""

from __future__ import annotations

import base64
import io

import segno


def qr_png(data: str, *, scale: int = 6) -> bytes:
    buffer = io.BytesIO()
    segno.make(data, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_data_uri(data: str, *, scale: int = 6) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(data, scale=scale)).decode()
