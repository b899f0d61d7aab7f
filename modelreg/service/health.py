"""Health checks: can the database be reached, and is its schema at our version?"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from modelreg.store import migrations
from modelreg.store.session import Database


def check_schema(db: Database) -> dict[str, str]:
    try:
        current = migrations.current_revision(db.engine)
    except SQLAlchemyError as exc:
        return {"database": f"fail: {type(exc).__name__}"}
    if current != migrations.head_revision():
        return {"schema": f"fail: at {current}, expected {migrations.head_revision()}"}
    return {"schema": "pass"}


def check(db: Database) -> dict[str, str]:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return {"database": f"fail: {type(exc).__name__}"}
    return {"database": "pass", **check_schema(db)}
