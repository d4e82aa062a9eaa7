"""evaluation: runs, frozen prompts, generation and judgment caches, cost ledger

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('eval_generations',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('model_id', sa.Text(), nullable=False),
    sa.Column('candidate', sa.String(length=200), nullable=False),
    sa.Column('prompt_hash', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('sample', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('finish_reason', sa.String(length=16), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('eval_generations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eval_generations_prompt_hash'), ['prompt_hash'], unique=False)

    op.create_table('eval_judgments',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('judge', sa.String(length=200), nullable=False),
    sa.Column('judge_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('verdict', sa.String(length=64), nullable=True),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('eval_judgments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eval_judgments_judge_id'), ['judge_id'], unique=False)

    op.create_table('eval_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('config_hash', sa.String(length=64), nullable=False),
    sa.Column('lineage', sa.JSON(), nullable=False),
    sa.Column('folder', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('eval_costs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('usd', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['eval_runs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('eval_costs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eval_costs_run_id'), ['run_id'], unique=False)

    op.create_table('eval_prompts',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('set_name', sa.String(length=200), nullable=False),
    sa.Column('in_domain', sa.Boolean(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=True),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('prompt_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['eval_runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'idx')
    )
    with op.batch_alter_table('eval_prompts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eval_prompts_prompt_hash'), ['prompt_hash'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('eval_prompts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eval_prompts_prompt_hash'))

    op.drop_table('eval_prompts')
    with op.batch_alter_table('eval_costs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eval_costs_run_id'))

    op.drop_table('eval_costs')
    op.drop_table('eval_runs')
    with op.batch_alter_table('eval_judgments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eval_judgments_judge_id'))

    op.drop_table('eval_judgments')
    with op.batch_alter_table('eval_generations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eval_generations_prompt_hash'))

    op.drop_table('eval_generations')
