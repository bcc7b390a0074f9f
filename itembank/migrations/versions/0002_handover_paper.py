"""handovers: the paper asked for on every row; the sealed package only where there was one

Refusals of papers that were never sealed (or do not exist) now reach the handover record, not
only the audit ledger.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('handovers') as batch_op:
        batch_op.add_column(sa.Column('paper_id', sa.Integer(), nullable=True))
    op.execute("UPDATE handovers SET paper_id = "
               "(SELECT sealed_papers.paper_id FROM sealed_papers WHERE sealed_papers.id = handovers.sealed_id)")
    with op.batch_alter_table('handovers') as batch_op:
        batch_op.alter_column('paper_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('sealed_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f('ix_handovers_paper_id'), ['paper_id'], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM handovers WHERE sealed_id IS NULL")
    with op.batch_alter_table('handovers') as batch_op:
        batch_op.drop_index(batch_op.f('ix_handovers_paper_id'))
        batch_op.alter_column('sealed_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('paper_id')
