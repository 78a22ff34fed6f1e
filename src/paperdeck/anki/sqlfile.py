"""SQLite's file format, written directly: records, b-tree pages and the file header.

What SQLite itself writes depends on every insert and update since the file was made, so
a collection brought up to date row by row would not be the bytes of one written afresh.
Here a b-tree's pages are a function of its entries alone. Its sorted entries are cut into
*runs* at entries picked by their own hash (see :func:`cuts`), and each run is packed
into pages of its own; so changing an entry changes the pages of its run and the few
interior pages above it, and nothing else. A run's leaf pages hold no page number unless
a row overflows, so they stay the same bytes wherever the run lands in the file.

Only what Anki's collection needs is here: pages of 4096 bytes, UTF-8, integer and text
values, rows of any size (overflow pages), index entries that fit in a page.
(The format: https://www.sqlite.org/fileformat2.html)
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

PAGE = 4096
TABLE_LEAF, TABLE_INTERIOR, INDEX_LEAF, INDEX_INTERIOR = 0x0D, 0x05, 0x0A, 0x02
_HEADER = 100
"""The file header, at the start of page 1."""
_LEAF_ROOM = PAGE - 8
_INTERIOR_ROOM = PAGE - 12
TABLE_MAX_LOCAL = PAGE - 35
_INDEX_MAX_LOCAL = (PAGE - 12) * 64 // 255 - 23
_MIN_LOCAL = (PAGE - 12) * 32 // 255 - 23
_OVERFLOW_ROOM = PAGE - 4
ROUND = 4
"""A run's pages are padded with free pages to a multiple of this, so that a row growing
or shrinking a little rarely moves the runs after it."""
SQLITE_VERSION = 3_040_001
"""Written into the header as the version that last wrote the file (a constant, so that
the bytes do not depend on the machine)."""
ZERO_PAGE = bytes(PAGE)

Value = int | float | str | bytes | None


# -- varints and records ------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    if value >> 56:
        out = bytearray(9)
        out[8] = value & 0xFF
        value >>= 8
        for i in range(7, -1, -1):
            out[i] = (value & 0x7F) | 0x80
            value >>= 7
        return bytes(out)
    out = bytearray()
    while True:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
        if not value:
            break
    out[0] &= 0x7F
    out.reverse()
    return bytes(out)


_SMALL = [bytes((i,)) for i in range(0x80)]


def varint(value: int) -> bytes:
    """SQLite's variable-length integer: 1 to 9 bytes, big-endian, 7 bits a byte."""
    if 0 <= value < 0x80:
        return _SMALL[value]
    if 0 < value < 0x4000:
        return bytes(((value >> 7) | 0x80, value & 0x7F))
    return _varint(value)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    value = 0
    for i in range(8):
        byte = data[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos + i + 1
    value = (value << 8) | data[pos + 8]
    return (value - (1 << 64) if value >> 63 else value), pos + 9


def record(values: Sequence[Value]) -> bytes:
    """A row (or index entry) in SQLite's record format; ``None`` is NULL."""
    head = bytearray()
    body: list[bytes] = []
    for value in values:
        kind = type(value)
        if kind is int:
            assert isinstance(value, int)
            if value == 0 or value == 1:
                head.append(8 + value)
                continue
            magnitude = ~value if value < 0 else value
            for (width, bound), serial in _INT_SIZES:
                if magnitude < bound:
                    head.append(serial)
                    body.append(value.to_bytes(width, "big", signed=True))
                    break
            else:
                raise OverflowError(f"{value} does not fit in 64 bits")
        elif kind is str:
            assert isinstance(value, str)
            data = value.encode("utf-8")
            head += varint(13 + 2 * len(data))
            body.append(data)
        elif value is None:
            head.append(0)
        elif kind is float:
            head.append(7)
            body.append(struct.pack(">d", value))
        else:
            assert isinstance(value, bytes)
            head += varint(12 + 2 * len(value))
            body.append(value)
    if len(head) < 0x7F:
        return bytes((len(head) + 1,)) + head + b"".join(body)
    total = len(head) + 1
    while len(varint(total)) != total - len(head):
        total += 1
    return varint(total) + head + b"".join(body)


_INT_SIZES = tuple(
    ((n, 1 << (8 * n - 1)), serial)
    for n, serial in ((1, 1), (2, 2), (3, 3), (4, 4), (6, 5), (8, 6))
)
"""((bytes, bound), serial type) of SQLite's integer encodings, smallest first."""


def record_ints(payload: bytes) -> tuple[int, ...]:
    """The values of a record holding integers only (an index entry of Anki's schema)."""
    return tuple(record_values(payload))  # type: ignore[arg-type]


_WIDTHS = (0, 1, 2, 3, 4, 6, 8, 8, 0, 0)


def record_values(payload: bytes) -> list[Value]:
    """The values of a record."""
    size, pos = read_varint(payload, 0)
    serials = []
    while pos < size:
        serial, pos = read_varint(payload, pos)
        serials.append(serial)
    values: list[Value] = []
    at = size
    for serial in serials:
        if serial >= 12:
            width = (serial - 12) // 2
            data = payload[at : at + width]
            values.append(data.decode("utf-8") if serial & 1 else data)
        elif serial in (8, 9):
            values.append(serial - 8)
        elif serial == 0:
            values.append(None)
        elif serial == 7:
            values.append(struct.unpack(">d", payload[at : at + 8])[0])
        else:
            width = _WIDTHS[serial]
            values.append(int.from_bytes(payload[at : at + width], "big", signed=True))
        at += _WIDTHS[serial] if serial < 12 else (serial - 12) // 2
    return values


# -- cells and pages --------------------------------------------------------------------


def _local_size(size: int, max_local: int) -> int:
    """How much of a payload of ``size`` bytes stays in its cell (the rest overflows)."""
    if size <= max_local:
        return size
    surplus = _MIN_LOCAL + (size - _MIN_LOCAL) % _OVERFLOW_ROOM
    return surplus if surplus <= max_local else _MIN_LOCAL


def page(
    kind: int, cells: Sequence[bytes], right: int | None = None, *, first: bool = False
) -> bytes:
    """One b-tree page: header, cell pointers, free space, then the cells (the first cell
    last in the page). ``right``: an interior page's right-most child; ``first``: page 1,
    whose first 100 bytes the file header takes (left as zeros here)."""
    start = _HEADER if first else 0
    head = 12 if right is not None else 8
    pointers = bytearray()
    end = PAGE
    for cell in cells:
        end -= len(cell)
        pointers += end.to_bytes(2, "big")
    header = struct.pack(">BHHHB", kind, 0, len(cells), end, 0)
    if right is not None:
        header += right.to_bytes(4, "big")
    gap = end - start - head - len(pointers)
    if gap < 0:
        raise ValueError("cells do not fit in one page")
    body = b"".join(reversed(cells))
    return bytes(start) + header + pointers + bytes(gap) + body


@dataclass
class Pages:
    """Consecutive pages of one run, and what an interior page above them needs."""

    data: bytes
    """Every page, padded with free (zero) pages to ``len(data) // PAGE`` pages."""
    used: int
    """Pages in use: leaves, then overflow pages; the rest are free."""
    leaves: int
    dividers: list[bytes]
    """The cell body (after the child pointer) of an interior cell for each leaf but the
    last: for a table the leaf's largest rowid, for an index the entry between leaves."""
    last: bytes
    """The same for the run's last leaf (a table's largest rowid; an index's unused)."""
    spills: bool
    """Whether a row overflows, so that the pages hold page numbers (they depend on where
    the run starts)."""

    @property
    def pages(self) -> int:
        return len(self.data) // PAGE


def padded(count: int) -> int:
    return -(-count // ROUND) * ROUND


def table_run(rows: Sequence[tuple[int, bytes]], base: int) -> Pages:
    """Rows (rowid, record), sorted, packed into leaf pages starting at page ``base``,
    with their overflow pages after the leaves."""
    cells: list[tuple[bytes, bytes, int]] = []  # head, payload, local size
    sizes: list[int] = []
    for rowid, payload in rows:
        head = varint(len(payload)) + varint(rowid)
        local = _local_size(len(payload), TABLE_MAX_LOCAL)
        cells.append((head, payload, local))
        sizes.append(len(head) + local + (4 if local < len(payload) else 0) + 2)
    groups = _pack(sizes, _LEAF_ROOM)
    next_overflow = base + len(groups)
    leaves: list[bytes] = []
    overflow: list[bytes] = []
    dividers: list[bytes] = []
    spills = False
    for a, b in groups:
        made = []
        for head, payload, local in cells[a:b]:
            if local == len(payload):
                made.append(head + payload)
                continue
            spills = True
            chain = _overflow_pages(payload[local:], next_overflow)
            made.append(head + payload[:local] + next_overflow.to_bytes(4, "big"))
            next_overflow += len(chain)
            overflow.extend(chain)
        leaves.append(page(TABLE_LEAF, made))
        dividers.append(varint(rows[b - 1][0]))
    used = len(leaves) + len(overflow)
    data = b"".join(leaves) + b"".join(overflow) + ZERO_PAGE * (padded(used) - used)
    return Pages(data, used, len(leaves), dividers[:-1], dividers[-1], spills)


def _overflow_pages(rest: bytes, first: int) -> list[bytes]:
    chunks = [rest[i : i + _OVERFLOW_ROOM] for i in range(0, len(rest), _OVERFLOW_ROOM)]
    made = []
    for i, chunk in enumerate(chunks):
        following = first + i + 1 if i + 1 < len(chunks) else 0
        made.append(following.to_bytes(4, "big") + chunk + bytes(_OVERFLOW_ROOM - len(chunk)))
    return made


def index_run(entries: Sequence[bytes], *, divider: bool) -> Pages:
    """Index entries (records, sorted) packed into leaf pages, an entry between each two
    leaves held back for the interior page above; with ``divider``, the first entry is
    the one that goes between this run and the one before it."""
    body = entries[1:] if divider else entries
    sizes = []
    cells = []
    for payload in body:
        if len(payload) > _INDEX_MAX_LOCAL:
            raise ValueError("index entry too large for a page")
        cell = varint(len(payload)) + payload
        cells.append(cell)
        sizes.append(len(cell) + 2)
    leaves: list[bytes] = []
    dividers: list[bytes] = []
    i = 0
    while i < len(cells):
        room, j = _LEAF_ROOM, i
        while j < len(cells) and sizes[j] <= room:
            room -= sizes[j]
            j += 1
        if j == len(cells) - 1 and j - 1 > i:  # one entry left: not both divider and leaf
            j -= 1
        leaves.append(page(INDEX_LEAF, cells[i:j]))
        if j < len(cells):
            dividers.append(cells[j])
        i = j + 1
    used = len(leaves)
    data = b"".join(leaves) + ZERO_PAGE * (padded(used) - used)
    return Pages(data, used, used, dividers, b"", False)


def _pack(sizes: Sequence[int], room: int) -> list[tuple[int, int]]:
    """Greedy: consecutive items in as few pages of ``room`` bytes as they go."""
    groups = []
    start, left = 0, room
    for i, size in enumerate(sizes):
        if size > left and i > start:
            groups.append((start, i))
            start, left = i, room
        left -= size
    if start < len(sizes) or not groups:
        groups.append((start, len(sizes)))
    return groups


def interior(
    kind: int, children: list[int], dividers: list[bytes], first_page: int
) -> tuple[list[bytes], int]:
    """Interior pages over ``children`` (page numbers), ``dividers[i]`` the cell body
    between child ``i`` and ``i + 1``; pages are numbered from ``first_page`` up, level by
    level. Returns the pages and the root's page number."""
    made: list[bytes] = []
    number = first_page
    while len(children) > 1:
        above: list[int] = []
        between: list[bytes] = []
        i, n = 0, len(children)
        while i < n:
            room, j = _INTERIOR_ROOM, i
            while j + 1 < n and len(dividers[j]) + 6 <= room:
                room -= len(dividers[j]) + 6
                j += 1
            if j == n - 2 and j > i + 1:  # leave two children, not one, for the last page
                j -= 1
            cells = [children[t].to_bytes(4, "big") + dividers[t] for t in range(i, j)]
            made.append(page(kind, cells, children[j]))
            above.append(number)
            number += 1
            if j < n - 1:
                between.append(dividers[j])
            i = j + 1
        children, dividers = above, between
    return made, children[0]


# -- reading runs back ------------------------------------------------------------------


def read_table_run(data: bytes, base: int, leaves: int) -> list[tuple[int, bytes]]:
    """The rows of a run that :func:`table_run` packed at ``base``."""
    rows = []
    for n in range(leaves):
        at = n * PAGE
        count = int.from_bytes(data[at + 3 : at + 5], "big")
        for c in range(count):
            pos = at + int.from_bytes(data[at + 8 + 2 * c : at + 10 + 2 * c], "big")
            size, pos = read_varint(data, pos)
            rowid, pos = read_varint(data, pos)
            local = _local_size(size, TABLE_MAX_LOCAL)
            payload = data[pos : pos + local]
            if local < size:
                following = int.from_bytes(data[pos + local : pos + local + 4], "big")
                parts = [payload]
                left = size - local
                while left > 0:
                    o = (following - base) * PAGE
                    take = min(left, _OVERFLOW_ROOM)
                    parts.append(data[o + 4 : o + 4 + take])
                    left -= take
                    following = int.from_bytes(data[o : o + 4], "big")
                payload = b"".join(parts)
            rows.append((rowid, payload))
    return rows


def read_index_run(data: bytes, leaves: int, dividers: Sequence[bytes]) -> list[bytes]:
    """The entries of a run that :func:`index_run` packed (without its leading divider),
    given the dividers it held back, in order."""
    entries = []
    for n in range(leaves):
        at = n * PAGE
        count = int.from_bytes(data[at + 3 : at + 5], "big")
        for c in range(count):
            pos = at + int.from_bytes(data[at + 8 + 2 * c : at + 10 + 2 * c], "big")
            size, pos = read_varint(data, pos)
            entries.append(data[pos : pos + size])
        if n < len(dividers):
            size, pos = read_varint(dividers[n], 0)
            entries.append(dividers[n][pos : pos + size])
    return entries


# -- cutting entries into runs ----------------------------------------------------------


def cuts(hashes: Sequence[int], every: int) -> list[int]:
    """Where runs start: entry ``i`` (never the first) starts one when its hash is a
    multiple of ``every`` and the next entry's is not (so that a run has at least two
    entries). Whether an entry starts a run depends on it and the entry after it alone,
    so an edit moves the cuts only next to it."""
    mask = every - 1
    return marked_cuts(bytes((h & mask) == 0 for h in hashes))


def marked_cuts(marked: bytes) -> list[int]:
    """:func:`cuts`, given whether each entry's hash is a multiple of ``every``."""
    return [i for i in range(1, len(marked) - 1) if marked[i] and not marked[i + 1]]


def mix(value: int) -> int:
    """A rowid's hash, for :func:`cuts` (the low bits of a multiplicative hash)."""
    return ((value * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> 40


# -- the file header and the schema ------------------------------------------------------


def file_header(pages: int, trunk: int, free: int, schema_cookie: int) -> bytes:
    """The 100-byte header of a file of ``pages`` pages, its free-page list starting at
    page ``trunk`` (0: none) and holding ``free`` pages."""
    return (
        b"SQLite format 3\x00"
        + struct.pack(">HBBBBBB", PAGE, 1, 1, 0, 64, 32, 32)
        + struct.pack(">12I", 1, pages, trunk, free, schema_cookie, 4, 0, 0, 1, 0, 0, 0)
        + bytes(20)
        + struct.pack(">II", 1, SQLITE_VERSION)
    )


def freelist(free: Sequence[int], first_page: int) -> list[bytes]:
    """Trunk pages listing the free pages ``free``, numbered from ``first_page``."""
    per = PAGE // 4 - 8
    chunks = [free[i : i + per] for i in range(0, len(free), per)]
    made = []
    for n, chunk in enumerate(chunks):
        following = first_page + n + 1 if n + 1 < len(chunks) else 0
        head = struct.pack(">II", following, len(chunk))
        body = b"".join(p.to_bytes(4, "big") for p in chunk)
        made.append(head + body + bytes(PAGE - 8 - len(body)))
    return made
