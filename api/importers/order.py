"""Which earlier batches a batch waits for, so that batches written side by side give the file's outcome.

The reader registers each batch, in file order, with its footprint (`db.footprints`): the keys of
what it looks up by identity and may create, or every key. A writer may start a batch once no
earlier batch still in flight has a footprint meeting its own; batches written at the same time
therefore touch nothing in common and commute. A batch only ever waits for earlier ones, which the
writers took off the queue before it: the earliest batch in flight waits for nothing, so some
writer can always go on.

A footprint narrows as the database settles names (`Footprint.narrowed`): a batch that meets an
earlier one when a writer takes it is narrowed, and again whenever batches have finished while it
waits. Once a file's speakers and publishers exist, its batches meet on nothing but a source or a
claim given twice, and are written side by side.
"""

from __future__ import annotations

import asyncio
import logging

from db.database import Database, StatementTimeout
from db.footprints import Footprint, Settled

log = logging.getLogger("claims.load")


class Order:
    """The footprints of the batches in flight (queued or being written), by their number in the file."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.settled = Settled()
        self.footprints: dict[int, Footprint] = {}
        self.finished = 0  # batches finished so far: when it moves, the database may hold more
        self._read_at: dict[int, int] = {}  # `finished` when a batch's footprint was last narrowed
        self._next = 0
        self._changed = asyncio.Event()

    def register(self, footprint: Footprint) -> int:
        """Add the next batch of the file; its number."""
        number = self._next
        self._next += 1
        self.footprints[number] = footprint
        return number

    def blockers(self, number: int) -> list[int]:
        """The earlier batches in flight that batch ``number`` must wait for."""
        mine = self.footprints[number]
        waits = []
        for other, theirs in self.footprints.items():  # in registration order
            if other >= number:
                break
            if mine.meets(theirs):
                waits.append(other)
        return waits

    async def narrow(self, number: int) -> None:
        """Narrow batch ``number``'s footprint to what the database has not settled yet."""
        read_at, footprint = self.finished, self.footprints[number]
        try:
            footprint = await self.settled.narrow(self.db, footprint)
        except StatementTimeout:
            log.warning("could not read what a batch's names find; it waits for every batch it may meet")
        self.footprints[number] = footprint
        self._read_at[number] = read_at
        self._notify()

    async def turn(self, number: int) -> None:
        """Return once no earlier batch in flight meets batch ``number``."""
        while self.blockers(number):
            if self._read_at.get(number) != self.finished:  # batches finished since it was last narrowed
                await self.narrow(number)
            else:
                await self._changed.wait()

    def finish(self, number: int) -> None:
        """Batch ``number`` is written (or given up): nothing waits for it any more."""
        del self.footprints[number]
        self._read_at.pop(number, None)
        self.finished += 1
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
