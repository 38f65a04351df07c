"""Fixtures of the server tests."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from diffeditor_app.engine.models.testing import square_scene
from diffeditor_app.server.process import ServerProcess


@pytest.fixture(scope="session")
def bomb_png() -> Callable[[int, int], bytes]:
    """A PNG whose header declares width x height and whose one IDAT is tiny: what a
    decompression bomb looks like before decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    def make(width: int, height: int) -> bytes:
        header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
        rows = zlib.compress(b"\0" * 64, 9)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", rows)
            + chunk(b"IEND", b"")
        )

    return make


def serving(args: list[str], token: str, log: Path) -> Iterator[ServerProcess]:
    """A module's server: started, handed to the tests, then stopped by its own process
    group, which must end cleanly (exit 0). Module fixtures `yield from` it."""
    process = ServerProcess(args, token, log)
    process.start()
    yield process
    assert process.stop() == 0, process.tail()


def cli_move(folder: Path, width: int, height: int) -> list[str]:
    """`diffeditor edit move` with square_scene(width, height) and its mask written to
    `folder`; the caller adds the offset, the server and the output."""
    image, mask = square_scene(width, height)
    image.to_pil().save(folder / "in.png")
    Image.fromarray(mask).save(folder / "mask.png")
    return ["edit", "move", "--image", str(folder / "in.png"), "--mask", str(folder / "mask.png")]
