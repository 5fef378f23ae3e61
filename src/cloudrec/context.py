"""What the API needs from the rest of the server, bundled once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from cloudrec.callbacks.delivery import CallbackDelivery
from cloudrec.clock import Clock
from cloudrec.config import Settings
from cloudrec.recorder.host import RecorderHost
from cloudrec.storage.base import Storage

if TYPE_CHECKING:
    from cloudrec.recorder.progress import DbProgressSink
    from cloudrec.tasks.restore import Restorer
    from cloudrec.tasks.succession import Succession


@dataclass
class AppContext:
    settings: Settings
    sessions: sessionmaker[Session]
    host: RecorderHost
    storage: Storage
    clock: Clock
    callbacks: CallbackDelivery | None = None  # the webhook delivery worker
    request_slots: int = 12  # API requests using the database at once (`db.session.request_slots`)
    sink: DbProgressSink | None = None  # where the host's progress goes (the control plane's side)
    succession: Succession | None = None  # takes over tasks whose recorder died or lost its lease
    restorer: Restorer | None = None  # stores the files that recorders which are gone left unstored
    instance_id: str = ""  # this server process: the owner of the leases it grants (`tasks.leases`)
