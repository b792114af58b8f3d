"""The zip in and out: members read on demand, changes recorded, unchanged members copied raw."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, BinaryIO

from ...errors import CaseloopError

# A workbook to read: its bytes, its path, or a seekable binary file.
Source = bytes | str | os.PathLike[str] | BinaryIO

# Parts larger than this are deflated at level 1: for a 100k-row tab that is ~0.4 s faster than
# level 6 for a file ~20% larger, and the scheduled sync's speed matters more.
FAST_DEFLATE_ABOVE = 8 * 1024 * 1024
# Members are copied in pieces of this size, so memory does not grow with the team's parts.
COPY_CHUNK = 1024 * 1024
_ZIP32_LIMIT = 0xFFFFFFFF
# Excel itself stamps every member with the DOS epoch; doing the same keeps output reproducible.
_DOS_EPOCH = (1980, 1, 1, 0, 0, 0)
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError)


def unreadable_error() -> CaseloopError:
    """The one sentence for a file that is not a workbook caseloop can open."""
    return CaseloopError(
        "The workbook is not a readable .xlsx or .xlsm file (it may be damaged, "
        "password-protected or in another format); open it in Excel and save it again."
    )


class Package:
    """The zip as parts: reads members, records changes, and writes a new zip with raw copies.

    Members are read from the source only when asked for, so a large part nobody edits (media,
    a big team tab) is never held in memory: ``write_to`` copies its compressed bytes in pieces.
    """

    def __init__(self, source: Source) -> None:
        self._owned: IO[bytes] | None = None
        if isinstance(source, bytes | bytearray | memoryview):
            self.file: IO[bytes] = io.BytesIO(source)
        elif isinstance(source, str | os.PathLike):
            try:
                # Kept open while members are read and copied; close() (or the with block) ends it.
                self.file = self._owned = open(source, "rb")
            except OSError as exc:
                raise CaseloopError(
                    f"Cannot read {os.fspath(source)}: {exc.strerror or exc}; check the path."
                ) from None
        else:
            self.file = source
        try:
            self.zip = zipfile.ZipFile(self.file)
            self.infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            self.close()
            raise unreadable_error() from None
        # OPC part names are case-insensitive, so every lookup goes through the folded name.
        self.original = {info.filename.casefold(): info for info in self.infos}
        self.changed: dict[str, tuple[str, bytes]] = {}
        self.removed: set[str] = set()
        self.dropped: set[str] = set()  # every original member caseloop removed, even if rewritten

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def has(self, name: str) -> bool:
        key = name.casefold()
        return key in self.changed or (key in self.original and key not in self.removed)

    def read(self, name: str) -> bytes | None:
        """The whole member (for the small XML parts caseloop edits), or None when absent."""
        key = name.casefold()
        if key in self.changed:
            return self.changed[key][1]
        info = self.original.get(key)
        if info is None or key in self.removed:
            return None
        try:
            return self.zip.read(info)
        except _ZIP_ERRORS:
            raise unreadable_error() from None

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes] | None]:
        """The member as a stream to read in pieces, or None when absent."""
        key = name.casefold()
        if key in self.changed:
            yield io.BytesIO(self.changed[key][1])
            return
        info = self.original.get(key)
        if info is None or key in self.removed:
            yield None
            return
        try:
            with self.zip.open(info) as stream:
                yield stream
        except _ZIP_ERRORS:
            raise unreadable_error() from None

    def write(self, name: str, content: bytes) -> None:
        key = name.casefold()
        self.removed.discard(key)
        stored_name = self.original[key].filename if key in self.original else name
        self.changed[key] = (stored_name, content)

    def remove(self, name: str) -> None:
        key = name.casefold()
        self.changed.pop(key, None)
        if key in self.original:
            self.removed.add(key)
            self.dropped.add(key)

    def names(self) -> set[str]:
        """Folded names of every member the output will hold."""
        kept = {key for key in self.original if key not in self.removed}
        return kept | set(self.changed)

    def free_name(self, pattern: str, taken: set[str] | None = None) -> str:
        """The first ``pattern.format(n)`` (n = 1, 2, ...) that names no member."""
        used = self.names() | (taken or set())
        n = 1
        while pattern.format(n).casefold() in used:
            n += 1
        return pattern.format(n)

    def write_to(self, out: IO[bytes]) -> None:
        """Write the new zip to ``out``: members in their old order, new ones after them."""
        writer = ZipWriter(out)
        changed = dict(self.changed)
        for info in self.infos:
            key = info.filename.casefold()
            if key in self.removed:
                continue
            if key in changed:
                name, content = changed.pop(key)
                writer.add_new(name, content)
            else:
                writer.add_raw(self.file, info)
        for name, content in changed.values():
            writer.add_new(name, content)
        writer.finish(self.zip.comment)


def _strip_zip64(extra: bytes) -> bytes:
    """Extra fields without the zip64 one: the sizes it carried go into the plain headers."""
    kept = bytearray()
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        if tag != 0x0001:
            kept += extra[pos : pos + 4 + size]
        pos += 4 + size
    return bytes(kept)


def _dos_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


class ZipWriter:
    """Writes local headers, data and the central directory to a stream; copies are never re-deflated."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.central: list[bytes] = []
        self.offset = 0

    def add_raw(self, source: IO[bytes], info: zipfile.ZipInfo) -> None:
        """Copy one member of ``source`` as it is stored, a piece at a time."""
        try:
            source.seek(info.header_offset)
            head = source.read(30)
            if len(head) < 30 or head[:4] != b"PK\x03\x04":
                raise unreadable_error()
            name_len, extra_len = struct.unpack("<HH", head[26:30])
            name = source.read(name_len)
            local_extra = _strip_zip64(source.read(extra_len))
        except OSError:
            raise unreadable_error() from None
        if len(name) != name_len or info.flag_bits & 0x1:
            raise unreadable_error()
        # Bit 3 says "sizes follow the data in a descriptor"; the sizes now sit in the header and
        # the descriptor is not copied, so the bit must go.
        flags = info.flag_bits & ~0x08
        dostime, dosdate = _dos_time(info.date_time)
        self._entry(
            name,
            flags,
            info.compress_type,
            dostime,
            dosdate,
            info.CRC,
            info.compress_size,
            info.file_size,
            _pieces(source, info.compress_size),
            local_extra=local_extra,
            central_extra=_strip_zip64(info.extra),
            comment=info.comment,
            version_made=(info.create_system << 8) | info.create_version,
            version_needed=info.extract_version,
            internal_attr=info.internal_attr,
            external_attr=info.external_attr,
        )

    def add_new(self, name: str, content: bytes) -> None:
        level = 1 if len(content) > FAST_DEFLATE_ABOVE else 6
        deflater = zlib.compressobj(level, zlib.DEFLATED, -15)
        data = deflater.compress(content) + deflater.flush()
        try:
            encoded, flags = name.encode("ascii"), 0
        except UnicodeEncodeError:
            encoded, flags = name.encode("utf-8"), 0x800
        dostime, dosdate = _dos_time(_DOS_EPOCH)
        self._entry(
            encoded,
            flags,
            zipfile.ZIP_DEFLATED,
            dostime,
            dosdate,
            zlib.crc32(content),
            len(data),
            len(content),
            iter([data]),
        )

    def _entry(
        self,
        name: bytes,
        flags: int,
        method: int,
        dostime: int,
        dosdate: int,
        crc: int,
        compressed_size: int,
        size: int,
        data: Iterator[bytes],
        *,
        local_extra: bytes = b"",
        central_extra: bytes = b"",
        comment: bytes = b"",
        version_made: int = 20,
        version_needed: int = 20,
        internal_attr: int = 0,
        external_attr: int = 0,
    ) -> None:
        if compressed_size > _ZIP32_LIMIT or size > _ZIP32_LIMIT:
            raise CaseloopError(
                "A part of the workbook is larger than 4 GB; caseloop cannot write it."
            )
        if self.offset > _ZIP32_LIMIT:
            raise CaseloopError("The workbook would be larger than 4 GB; caseloop cannot write it.")
        if version_needed == 45:  # zip64 is gone from this entry
            version_needed = 20
        # The fields both headers share, in the order both hold them.
        shared = (flags, method, dostime, dosdate, crc, compressed_size, size, len(name))
        local = struct.pack("<4s5H3L2H", b"PK\x03\x04", version_needed, *shared, len(local_extra))
        central = struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            version_made,
            version_needed,
            *shared,
            len(central_extra),
            len(comment),
            0,  # disk number
            internal_attr,
            external_attr,
            self.offset,
        )
        self.out.write(local + name + local_extra)
        written = 0
        for piece in data:
            self.out.write(piece)
            written += len(piece)
        if written != compressed_size:
            raise unreadable_error()  # the source ended inside the member
        self.central.append(central + name + central_extra + comment)
        self.offset += len(local) + len(name) + len(local_extra) + compressed_size

    def finish(self, comment: bytes) -> None:
        if len(self.central) > 0xFFFF:
            raise CaseloopError("The workbook has too many parts for caseloop to write.")
        directory = b"".join(self.central)
        end = struct.pack(
            "<4s4H2LH",
            b"PK\x05\x06",
            0,
            0,
            len(self.central),
            len(self.central),
            len(directory),
            self.offset,
            len(comment),
        )
        self.out.write(directory + end + comment)


def _pieces(source: IO[bytes], size: int) -> Iterator[bytes]:
    """``size`` bytes of ``source`` from where it stands, at most ``COPY_CHUNK`` at a time."""
    left = size
    while left > 0:
        try:
            piece = source.read(min(COPY_CHUNK, left))
        except OSError:
            raise unreadable_error() from None
        if not piece:
            return
        left -= len(piece)
        yield piece
