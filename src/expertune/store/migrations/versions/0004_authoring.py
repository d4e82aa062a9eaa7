"""authoring: sessions, turn trees, events, curation proposals

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('author_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('topic', sa.String(length=200), nullable=True),
    sa.Column('system', sa.Text(), nullable=True),
    sa.Column('backend', sa.JSON(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('template', sa.String(length=100), nullable=True),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('source_ref', sa.Text(), nullable=True),
    sa.Column('head_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('author_turns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('draft_text', sa.Text(), nullable=True),
    sa.Column('model', sa.Text(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.Column('seed', sa.Integer(), nullable=True),
    sa.Column('finish_reason', sa.String(length=16), nullable=True),
    sa.Column('instructions', sa.JSON(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('template', sa.String(length=100), nullable=True),
    sa.Column('based_on_id', sa.Integer(), nullable=True),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.Column('meta', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['author_turns.id'], ),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], ),
    sa.ForeignKeyConstraint(['session_id'], ['author_sessions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('author_turns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_author_turns_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_author_turns_response_id'), ['response_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_author_turns_session_id'), ['session_id'], unique=False)

    op.create_table('curation_proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('result_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['prompt_groups.id'], ),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('curation_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_curation_proposals_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_curation_proposals_status'), ['status'], unique=False)

    op.create_table('author_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('turn_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('diff', sa.Text(), nullable=True),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['author_sessions.id'], ),
    sa.ForeignKeyConstraint(['turn_id'], ['author_turns.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('author_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_author_events_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_author_events_turn_id'), ['turn_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('author_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_author_events_turn_id'))
        batch_op.drop_index(batch_op.f('ix_author_events_session_id'))

    op.drop_table('author_events')
    with op.batch_alter_table('curation_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_curation_proposals_status'))
        batch_op.drop_index(batch_op.f('ix_curation_proposals_group_id'))

    op.drop_table('curation_proposals')
    with op.batch_alter_table('author_turns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_author_turns_session_id'))
        batch_op.drop_index(batch_op.f('ix_author_turns_response_id'))
        batch_op.drop_index(batch_op.f('ix_author_turns_parent_id'))

    op.drop_table('author_turns')
    op.drop_table('author_sessions')
