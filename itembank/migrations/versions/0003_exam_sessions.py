"""exam sessions: LOFT forms per ticket and CAT pools on a carrier paper

A session's carrier paper goes through the fixed-paper cycle; its forms are rows keyed by ticket (准考证号).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 23:02:51.228483
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('exam_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('paper_id', sa.Integer(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('tickets', sa.JSON(), nullable=False),
    sa.Column('reference_ids', sa.JSON(), nullable=False),
    sa.Column('snapshot_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('inputs_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pool', sa.JSON(), nullable=False),
    sa.Column('replaces', sa.Integer(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['paper_id'], ['papers.id'], ),
    sa.ForeignKeyConstraint(['replaces'], ['exam_sessions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('exam_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exam_sessions_paper_id'), ['paper_id'], unique=True)

    op.create_table('candidate_forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('ticket', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('item_ids', sa.JSON(), nullable=False),
    sa.Column('form_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('cat_log', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id', 'ticket')
    )
    with op.batch_alter_table('candidate_forms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_candidate_forms_session_id'), ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('candidate_forms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_candidate_forms_session_id'))

    op.drop_table('candidate_forms')
    with op.batch_alter_table('exam_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exam_sessions_paper_id'))

    op.drop_table('exam_sessions')
