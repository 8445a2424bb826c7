"""Images and camera streams recognised by their bytes, not by a path or a header alone.

A snapshot endpoint that answers a request without credentials with a real image is the proof
that the camera's picture is open: the Content-Type says image/* (or a multipart MJPEG stream)
AND the body starts with that format's magic bytes. A page that only claims to be an image, or
an image-looking body labelled text/html, is not counted.
"""

from __future__ import annotations

MAGIC = {
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "gif": (b"GIF87a", b"GIF89a"),
    "bmp": (b"BM",),
    "webp": (b"RIFF",),
}


def image_format(body: bytes) -> str | None:
    for name, heads in MAGIC.items():
        if body.startswith(heads) and (name != "webp" or body[8:12] == b"WEBP"):
            return name
    return None


def recognise(content_type: str, body: bytes) -> str | None:
    """"image/<format>" or "mjpeg-stream" when headers and bytes agree, else None."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype.startswith("image/"):
        fmt = image_format(body)
        return f"image/{fmt}" if fmt else None
    if ctype == "multipart/x-mixed-replace":
        # frames follow a boundary line and their own headers: a JPEG frame near the start is proof
        return "mjpeg-stream" if b"\xff\xd8\xff" in body[:65536] else None
    return None
