"""ChangeWatcher: a token that moves with every commit to a SQLite file, read with no I/O.

`PRAGMA data_version` says whether another connection committed, but each asking costs a
read transaction: three system calls (a lock, a stat, an unlock). A cached feed page
asks once per request, and under load those calls were a quarter of the page's time (the
load's other threads ran between them). In WAL mode, SQLite publishes every commit in
the WAL-index header at the start of the `-shm` file, which every connection maps into
memory: its frame count, salts and checksums change with each commit (the format is
documented: https://www.sqlite.org/walformat.html#the_wal_index_file_format). The
watcher maps that file read-only and compares the header's bytes: a memory read. The
header can also change with no commit (seen: another process's rolled-back write reset its
change counter); that costs a cache miss, never a stale answer.

That is safe only while the watcher's own connection keeps the `-shm` file open (SQLite
truncates it only when it opens with no other connection on it), so the connection stays
open for as long as the mapping does. Where the header cannot be read this way (not WAL,
an unknown header version, no `-shm` file), the watcher asks `PRAGMA data_version`.
"""

from __future__ import annotations

import mmap
import sqlite3
import struct

# WalIndexHdr.iVersion of every SQLite since 3.7.0 (the WAL-index format's only version).
_WAL_INDEX_VERSION = 3007000
_HEADER_BYTES = 48  # one copy of WalIndexHdr; a writer fills the second copy, then this one


class ChangeWatcher:
    """One never-writing connection to `path`; `token()` differs after any commit."""

    def __init__(self, path: str) -> None:
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA data_version").fetchone()  # opens the WAL index, if any
        self._header = _map_wal_index(path, self._conn)

    @property
    def reads_wal_header(self) -> bool:
        return self._header is not None

    def token(self) -> int | None:
        if self._header is not None:
            return int.from_bytes(self._header[:_HEADER_BYTES], "little")
        if self._conn is None:
            return None
        try:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None  # cannot tell: callers then cache nothing

    def close(self) -> None:
        if self._header is not None:
            self._header.close()  # before the connection: the mapping relies on it
            self._header = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _map_wal_index(path: str, conn: sqlite3.Connection) -> mmap.mmap | None:
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        return None
    try:
        with open(f"{path}-shm", "rb") as shm:
            header = mmap.mmap(shm.fileno(), mmap.PAGESIZE, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # no -shm file (a VFS without one), or shorter than a page
        return None
    # Native byte order, as SQLite writes it; any other value: not a format we know.
    if struct.unpack_from("=I", header, 0)[0] != _WAL_INDEX_VERSION:
        header.close()
        return None
    return header
