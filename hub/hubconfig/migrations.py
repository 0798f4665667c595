"""Whether a hub database is migrated: JupyterHub's schema at its alembic head, and our tables.

`python -m hubconfig.migrations` checks the database of the running hub (the URL the chart's hub
configuration builds, password from the hub's environment), e.g. after `helm upgrade`:

    kubectl exec deploy/<release>-jupyterhub-k8s-hub -- python -m hubconfig.migrations

It prints what it found and exits 1 with the problems when the database is not migrated.
JupyterHub stamps and upgrades its schema when it starts (`--upgrade-db`); multilogin creates its
tables (`multilogin_*`) on their first use, so a hub that never had a login lacks them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import jupyterhub
import jupyterhub.orm
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from hubconfig import values
from hubconfig.config import hub_database_url
from multilogin import identities, nonces
from multilogin.hub_tables import Base

# Imported for their tables: each module declares its own on multilogin's Base.
OWN_TABLE_MODULES = (identities, nonces)


def alembic_head() -> str:
    """The newest revision of the installed JupyterHub's migrations."""
    scripts = ScriptDirectory(str(Path(jupyterhub.__file__).parent / "alembic"))
    (head,) = scripts.get_heads()
    return head


def _missing(metadata: MetaData, found: dict[str, set[str]], whose: str) -> list[str]:
    problems = []
    for name, table in sorted(metadata.tables.items()):
        if name not in found:
            problems.append(f"{whose} table {name} is missing")
            continue
        lacking = sorted(set(table.columns.keys()) - found[name])
        if lacking:
            problems.append(f"{whose} table {name} lacks the columns {', '.join(lacking)}")
    return problems


def problems(url: str) -> list[str]:
    """What keeps the database at `url` from being migrated; empty when it is."""
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        found = {
            name: {column["name"] for column in inspector.get_columns(name)}
            for name in inspector.get_table_names()
        }
        if "alembic_version" not in found:
            return ["no alembic_version table: JupyterHub has not started on this database"]
        with engine.connect() as connection:
            revisions = [
                row[0]
                for row in connection.execute(text("SELECT version_num FROM alembic_version"))
            ]
    except SQLAlchemyError as error:
        return [f"cannot read the database: {type(error).__name__}: {error}"]
    finally:
        engine.dispose()
    head = alembic_head()
    found_problems = []
    if revisions != [head]:
        found_problems.append(
            f"JupyterHub's alembic version is {', '.join(revisions) or 'empty'}, "
            f"JupyterHub {jupyterhub.__version__}'s head is {head}"
        )
    found_problems += _missing(jupyterhub.orm.Base.metadata, found, "JupyterHub's")
    found_problems += _missing(Base.metadata, found, "multilogin's")
    return found_problems


def main(environ: Mapping[str, str] = os.environ) -> int:
    """Check the database of the hub whose environment this is; 0 when it is migrated."""
    try:
        url = hub_database_url(environ)
    except values.ValuesError as error:
        print(f"hubconfig.migrations: {error}", file=sys.stderr)
        return 2
    found = problems(url)
    for problem in found:
        print(f"not migrated: {problem}", file=sys.stderr)
    if not found:
        tables = sorted({*jupyterhub.orm.Base.metadata.tables, *Base.metadata.tables})
        print(f"migrated: alembic head {alembic_head()}, {len(tables)} tables: {', '.join(tables)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
