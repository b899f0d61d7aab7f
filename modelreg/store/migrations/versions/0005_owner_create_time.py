"""owner create time on custom properties

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables whose rows own custom properties, as of this revision.
_OWNERS = (
    'registered_models', 'model_versions', 'artifacts', 'serving_environments', 'inference_services',
    'serve_models', 'experiments', 'experiment_runs', 'metric_history',
)


def upgrade() -> None:
    with op.batch_alter_table('custom_properties', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_create_time', sa.BigInteger(), nullable=True))

    # Each property gets its owner's creation time, as the repository writes it from now
    # on; a property whose owner is gone (none should be) gets 0 rather than blocking
    # the NOT NULL below.
    cp = sa.table('custom_properties', sa.column('resource_id', sa.Integer()), sa.column('owner_create_time', sa.BigInteger()))
    for name in _OWNERS:
        owner = sa.table(name, sa.column('id', sa.Integer()), sa.column('create_time', sa.BigInteger()))
        op.execute(
            cp.update().where(cp.c.resource_id == owner.c.id).values(owner_create_time=owner.c.create_time)
        )
    op.execute(cp.update().where(cp.c.owner_create_time.is_(None)).values(owner_create_time=0))

    with op.batch_alter_table('custom_properties', schema=None) as batch_op:
        batch_op.alter_column('owner_create_time', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index('ix_custom_properties_text_by_owner_create_time', ['name', 'value_type', 'string_prefix', 'owner_create_time', 'resource_id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        # Every row was rewritten: the planner's figures for the table are the old ones.
        op.execute('ANALYZE custom_properties')


def downgrade() -> None:
    with op.batch_alter_table('custom_properties', schema=None) as batch_op:
        batch_op.drop_index('ix_custom_properties_text_by_owner_create_time')
        batch_op.drop_column('owner_create_time')
