"""The task list's queries find their tasks by index, not by reading every task of the app (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from cloudrec.db.migrate import upgrade
from cloudrec.db.models import App, Base, Developer, Task
from cloudrec.db.session import make_engine
from cloudrec.tasks.listing import TaskFilter, list_tasks

DAY = 86400.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database with a few tasks of one app (no ANALYZE statistics, as in production)."""
    url = f"sqlite:///{tmp_path / 'cloudrec.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        s.add(Developer(dev_id="d", secret="s", name="", created_at=0.0))
        s.flush()
        s.add(App(app_id="a", dev_id="d", name="", created_at=0.0))
        s.flush()
        for i in range(30):
            created = 1000 * DAY + i * 3600.0
            s.add(
                Task(
                    record_id=f"r{i:03d}",
                    app_id="a",
                    group_id=f"g{i % 4}",
                    file_name=f"f{i}",
                    status=6 if i % 3 else 2,
                    created_at=created,
                    start_time=created + 1,
                    stop_time=created + 600 if i % 3 else None,
                )
            )
        s.commit()
    yield engine
    engine.dispose()


Plan = list[tuple[int, str]]  # (depth, step): the steps of a subquery are one deeper than its own


def _text(plan: Plan) -> str:
    return " | ".join(step for _, step in plan)


def _plans(engine: Engine, flt: TaskFilter, page: int = 1) -> tuple[list[Plan], int]:
    """The query plan of each statement `list_tasks` runs, and the total it answers."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: bool) -> None:
        statements.append((sql, params))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with Session(engine) as s:
            total, _ = list_tasks(s, "a", flt, page, 10)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    plans = []
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        for sql, params in statements:
            depth = {0: -1}
            plan: Plan = []
            for node, parent, _, step in raw.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall():
                depth[node] = depth[parent] + 1
                plan.append((depth[node], str(step)))
            plans.append(plan)
    return plans, total


@pytest.mark.parametrize(
    ("flt", "index", "total"),
    [
        (TaskFilter(), "INDEX ix_tasks_app_", 30),  # the count may read any index of the app's tasks
        (TaskFilter(group_id="g1"), "ix_tasks_app_group_created (app_id=? AND group_id=?)", 8),
        (TaskFilter(status=2), "ix_tasks_app_status_created (app_id=? AND status=?)", 10),
        (
            TaskFilter(started_from=1000 * DAY + 25 * 3600.0),
            "ix_tasks_app_started (app_id=? AND start_time>?)",
            5,
        ),
    ],
)
def test_each_filter_reads_its_own_index(engine: Engine, flt: TaskFilter, index: str, total: int) -> None:
    (count, page), answered = _plans(engine, flt)
    assert answered == total
    for plan in (count, page):
        assert index in _text(plan), plan
        assert "SCAN" not in _text(plan), plan  # never every row of the table


def test_pages_come_in_index_order_and_rows_are_read_for_the_page_only(engine: Engine) -> None:
    """The page's ids come newest first straight from an index (no sort of every task of the app, group
    or status), which has them all (no row read for the tasks skipped); then only the page's rows are read
    by id (and sorted: a page of them)."""
    for flt in (TaskFilter(), TaskFilter(group_id="g1"), TaskFilter(status=6)):
        (_, page), _ = _plans(engine, flt, page=2)
        ids = [step for depth, step in page if depth > 0]
        assert any("USING COVERING INDEX ix_tasks_app_" in step for step in ids), page
        assert not any("TEMP B-TREE" in step for step in ids), page
        rows = [step for depth, step in page if depth == 0 and "SUBQUERY" not in step]
        assert rows[0] == "SEARCH tasks USING INTEGER PRIMARY KEY (rowid=?)", page


def test_the_auto_task_rule_still_reads_its_index(engine: Engine) -> None:
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        sql = "SELECT record_id, auto FROM tasks WHERE app_id = ? AND group_id = ? AND status IN (?, ?)"
        plan = " ".join(str(row[3]) for row in raw.execute("EXPLAIN QUERY PLAN " + sql, ("a", "g1", 1, 2)))
    assert "ix_tasks_app_group_status (app_id=? AND group_id=? AND status=?)" in plan, plan


def test_migrations_make_the_schema_of_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
