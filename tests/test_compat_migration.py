"""Migration 0009: tasks made before it get `company_id` "" and `is_auto` from their `auto` column."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from cloudrec.db.migrate import upgrade
from cloudrec.db.session import make_engine


def test_existing_tasks_are_marked_automatic_or_manual(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cloudrec.db'}"
    upgrade(url, "0008")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO developers (dev_id, secret, name, created_at) VALUES ('d', 's', '', 0)")
        )
        conn.execute(
            text(
                "INSERT INTO apps (app_id, dev_id, name, created_at, callback_url, callback_secret) "
                "VALUES ('a', 'd', '', 0, '', '')"
            )
        )
        for i, auto in enumerate([json.dumps({"type": 2}), "null", None, json.dumps({})]):
            conn.execute(
                text(
                    "INSERT INTO tasks (record_id, app_id, group_id, seq, file_name, file_type, "
                    "file_duration, width, height, record_mode, frame_rate, timeout, auto, status, "
                    "paused, error, host_id, "
                    "created_at, media_duration, record_duration, flow_bytes, file_size, files_deleted) "
                    "VALUES (:r, 'a', 'g', '', 'f', 0, 60, 1920, 1080, 0, 30, 600, :auto, 6, 0, '', '', "
                    ":t, 0, 0, 0, 0, 0)"
                ),
                {"r": f"r{i}", "auto": auto, "t": float(i)},
            )
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT record_id, is_auto, company_id FROM tasks ORDER BY record_id")).all()
    engine.dispose()
    assert [(r, bool(a), c) for r, a, c in rows] == [
        ("r0", True, ""),
        ("r1", False, ""),  # JSON null: a manual task
        ("r2", False, ""),
        ("r3", True, ""),  # `auto: {}` is an automatic task too
    ]
