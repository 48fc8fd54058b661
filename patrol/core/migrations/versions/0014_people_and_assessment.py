"""the people of the grid and how their work is judged: 网格长 and 楼栋长 roles, a user's post, a grid's 网格长,
微网格 (in force and per plan) with their buildings, volunteer teams, members and tasks, 网格服务专员 / 双报到 members,
pairings and service records, 研判 (case_assessment, and a case's 诉求清单 / 重难点 / 信访 marks), 议事 meetings and
their links, mediation with parties and sessions, a need's responsible person, due date, answer and feedback, a
category's top level and persuasion step, and a city's households range per grid

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 12:40:00
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('grid_worker', 'supervisor', 'subdistrict', 'department', 'planner', 'admin')"
NEW_ROLES = ("role IN ('grid_worker', 'supervisor', 'subdistrict', 'department', 'planner', 'admin', 'grid_lead', "
             "'building_lead')")


def _sqlite_edit(table: str, replace: tuple[str, str] | None = None, foreign_key: str | None = None) -> None:
    """On SQLite, widen a CHECK or add a foreign key of a new all-NULL column without recreating the table (which,
    with foreign keys on, would delete every row that refers to it): SQLite's documented procedure for schema changes
    that leave the stored rows valid, editing the stored CREATE TABLE text inside the migration's transaction (as
    0006 did)."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).scalar()
    if replace is not None:
        assert replace[0] in sql, sql
        sql = sql.replace(*replace)
    if foreign_key is not None:
        assert sql.rstrip().endswith(")"), sql
        sql = sql.rstrip()[:-1].rstrip() + f", {foreign_key}\n)"
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table))
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _sqlite_edit("app_user", (OLD_ROLES, NEW_ROLES))
    else:
        op.drop_constraint(op.f('ck_app_user_role'), 'app_user', type_='check')
        op.create_check_constraint(op.f('ck_app_user_role'), 'app_user', NEW_ROLES)
    op.create_table('volunteer_team',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('mediation', 'safety', 'service', 'other')", name=op.f('ck_volunteer_team_kind')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_volunteer_team_community_id_community'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_team'))
    )
    op.create_index(op.f('ix_volunteer_team_community_id'), 'volunteer_team', ['community_id'], unique=False)
    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('topic', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('participants', sa.Integer(), nullable=True),
    sa.Column('representatives', sa.Integer(), nullable=True),
    sa.Column('options', sa.Text(), nullable=True),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.Column('votes_for', sa.Integer(), nullable=True),
    sa.Column('votes_against', sa.Integer(), nullable=True),
    sa.Column('votes_abstain', sa.Integer(), nullable=True),
    sa.Column('minutes', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'held', 'decided', 'cancelled')", name=op.f('ck_meeting_status')),
    sa.CheckConstraint('participants IS NULL OR participants >= 0', name=op.f('ck_meeting_participants_non_negative')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_meeting_community_id_community'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_meeting_created_by_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting')),
    sa.UniqueConstraint('number', name=op.f('uq_meeting_number'))
    )
    op.create_index(op.f('ix_meeting_community_id'), 'meeting', ['community_id'], unique=False)
    op.create_index(op.f('ix_meeting_held_at'), 'meeting', ['held_at'], unique=False)
    op.create_index(op.f('ix_meeting_status'), 'meeting', ['status'], unique=False)
    op.create_table('team_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('role_in_team', sa.String(length=40), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['volunteer_team.id'], name=op.f('fk_team_member_team_id_volunteer_team'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_team_member_user_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_member'))
    )
    op.create_index(op.f('ix_team_member_team_id'), 'team_member', ['team_id'], unique=False)
    op.create_index(op.f('ix_team_member_user_id'), 'team_member', ['user_id'], unique=False)
    op.create_geospatial_table('micro_grid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('grid_code', sa.String(length=20), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('leader_id', sa.Integer(), nullable=True),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_micro_grid_grid_id_grid'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['leader_id'], ['app_user.id'], name=op.f('fk_micro_grid_leader_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['grid_plan.id'], name=op.f('fk_micro_grid_plan_id_grid_plan'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_micro_grid')),
    sa.UniqueConstraint('plan_id', 'code', name=op.f('uq_micro_grid_plan_id_code'))
    )
    with op.batch_alter_table('micro_grid', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_micro_grid_geom', ['geom'], unique=False, postgresql_using='gist',
                                         postgresql_ops={})
    op.create_index(op.f('ix_micro_grid_grid_code'), 'micro_grid', ['grid_code'], unique=False)
    op.create_index(op.f('ix_micro_grid_grid_id'), 'micro_grid', ['grid_id'], unique=False)
    op.create_index(op.f('ix_micro_grid_leader_id'), 'micro_grid', ['leader_id'], unique=False)
    op.create_index(op.f('ix_micro_grid_plan_id'), 'micro_grid', ['plan_id'], unique=False)
    op.create_table('service_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('pledges', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('liaison', 'party_member', 'unit')", name=op.f('ck_service_member_kind')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_service_member_community_id_community'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_service_member_grid_id_grid'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_service_member_user_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_member'))
    )
    op.create_index(op.f('ix_service_member_community_id'), 'service_member', ['community_id'], unique=False)
    op.create_index(op.f('ix_service_member_grid_id'), 'service_member', ['grid_id'], unique=False)
    op.create_table('micro_grid_building',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('micro_grid_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_micro_grid_building_building_id_building'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['micro_grid_id'], ['micro_grid.id'], name=op.f('fk_micro_grid_building_micro_grid_id_micro_grid'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_micro_grid_building')),
    sa.UniqueConstraint('micro_grid_id', 'building_id', name=op.f('uq_micro_grid_building_micro_grid_id_building_id'))
    )
    op.create_index(op.f('ix_micro_grid_building_building_id'), 'micro_grid_building', ['building_id'], unique=False)
    op.create_index(op.f('ix_micro_grid_building_micro_grid_id'), 'micro_grid_building', ['micro_grid_id'], unique=False)
    op.create_table('mediation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('mediator_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('agreement', sa.Text(), nullable=True),
    sa.Column('follow_up', sa.Text(), nullable=True),
    sa.Column('follow_up_on', sa.Date(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('simulated', sa.Boolean(), nullable=False),
    sa.CheckConstraint("outcome IN ('open', 'agreed', 'failed', 'referred')", name=op.f('ck_mediation_outcome')),
    sa.ForeignKeyConstraint(['case_id'], ['patrol_case.id'], name=op.f('fk_mediation_case_id_patrol_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mediator_id'], ['app_user.id'], name=op.f('fk_mediation_mediator_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['volunteer_team.id'], name=op.f('fk_mediation_team_id_volunteer_team'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation')),
    sa.UniqueConstraint('case_id', name=op.f('uq_mediation_case_id'))
    )
    op.create_index(op.f('ix_mediation_mediator_id'), 'mediation', ['mediator_id'], unique=False)
    op.create_index(op.f('ix_mediation_opened_at'), 'mediation', ['opened_at'], unique=False)
    op.create_index(op.f('ix_mediation_outcome'), 'mediation', ['outcome'], unique=False)
    op.create_index(op.f('ix_mediation_team_id'), 'mediation', ['team_id'], unique=False)
    op.create_table('service_pairing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_service_pairing_household_id_household'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['service_member.id'], name=op.f('fk_service_pairing_member_id_service_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_pairing'))
    )
    op.create_index(op.f('ix_service_pairing_household_id'), 'service_pairing', ['household_id'], unique=False)
    op.create_index(op.f('ix_service_pairing_member_id'), 'service_pairing', ['member_id'], unique=False)
    op.create_table('service_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=36), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('hours', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_service_record_created_by_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_service_record_household_id_household'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['member_id'], ['service_member.id'], name=op.f('fk_service_record_member_id_service_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_record')),
    sa.UniqueConstraint('client_id', name=op.f('uq_service_record_client_id'))
    )
    op.create_index(op.f('ix_service_record_household_id'), 'service_record', ['household_id'], unique=False)
    op.create_index(op.f('ix_service_record_member_id'), 'service_record', ['member_id'], unique=False)
    op.create_index(op.f('ix_service_record_on'), 'service_record', ['on'], unique=False)
    op.create_table('team_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['patrol_case.id'], name=op.f('fk_team_task_case_id_patrol_case'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['volunteer_team.id'], name=op.f('fk_team_task_team_id_volunteer_team'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_task'))
    )
    op.create_index(op.f('ix_team_task_case_id'), 'team_task', ['case_id'], unique=False)
    op.create_index(op.f('ix_team_task_team_id'), 'team_task', ['team_id'], unique=False)
    op.create_table('case_assessment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('demand_list', sa.String(length=20), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('key_case', sa.Boolean(), nullable=False),
    sa.Column('petition', sa.Boolean(), nullable=False),
    sa.Column('needs_meeting', sa.Boolean(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('comprehensive', 'special')", name=op.f('ck_case_assessment_kind')),
    sa.CheckConstraint("level IN ('grid', 'community', 'department')", name=op.f('ck_case_assessment_level')),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_case_assessment_actor_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['patrol_case.id'], name=op.f('fk_case_assessment_case_id_patrol_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['case_event.id'], name=op.f('fk_case_assessment_event_id_case_event'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_assessment'))
    )
    op.create_index(op.f('ix_case_assessment_case_id'), 'case_assessment', ['case_id'], unique=False)
    op.create_table('mediation_party',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mediation_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('role', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['mediation_id'], ['mediation.id'], name=op.f('fk_mediation_party_mediation_id_mediation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_party'))
    )
    op.create_index(op.f('ix_mediation_party_mediation_id'), 'mediation_party', ['mediation_id'], unique=False)
    op.create_table('mediation_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=36), nullable=True),
    sa.Column('mediation_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_mediation_session_actor_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mediation_id'], ['mediation.id'], name=op.f('fk_mediation_session_mediation_id_mediation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mediation_session')),
    sa.UniqueConstraint('client_id', name=op.f('uq_mediation_session_client_id'))
    )
    op.create_index(op.f('ix_mediation_session_mediation_id'), 'mediation_session', ['mediation_id'], unique=False)
    op.create_table('meeting_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('need_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.CheckConstraint("role IN ('topic', 'follow_up')", name=op.f('ck_meeting_link_role')),
    sa.ForeignKeyConstraint(['case_id'], ['patrol_case.id'], name=op.f('fk_meeting_link_case_id_patrol_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_link_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['need_id'], ['resident_need.id'], name=op.f('fk_meeting_link_need_id_resident_need'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_link'))
    )
    op.create_index(op.f('ix_meeting_link_case_id'), 'meeting_link', ['case_id'], unique=False)
    op.create_index(op.f('ix_meeting_link_meeting_id'), 'meeting_link', ['meeting_id'], unique=False)
    op.create_index(op.f('ix_meeting_link_need_id'), 'meeting_link', ['need_id'], unique=False)
    op.add_column('app_user', sa.Column('post', sa.String(length=40), nullable=True))
    op.add_column('category', sa.Column('top_level', sa.String(length=20), nullable=True))
    op.add_column('category', sa.Column('persuade_first', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('city', sa.Column('grid_households_min', sa.Integer(), nullable=True))
    op.add_column('city', sa.Column('grid_households_max', sa.Integer(), nullable=True))
    op.add_column('grid', sa.Column('lead_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_grid_lead_id'), 'grid', ['lead_id'], unique=False)
    if sqlite:
        _sqlite_edit("grid", foreign_key="CONSTRAINT fk_grid_lead_id_app_user FOREIGN KEY(lead_id) REFERENCES "
                     "app_user (id) ON DELETE SET NULL")
    else:
        op.create_foreign_key(op.f('fk_grid_lead_id_app_user'), 'grid', 'app_user', ['lead_id'], ['id'],
                              ondelete='SET NULL')
    op.add_column('patrol_case', sa.Column('demand_list', sa.String(length=20), nullable=True))
    op.add_column('patrol_case', sa.Column('key_case', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('patrol_case', sa.Column('petition', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('resident_need', sa.Column('responsible_id', sa.Integer(), nullable=True))
    op.add_column('resident_need', sa.Column('due_on', sa.Date(), nullable=True))
    op.add_column('resident_need', sa.Column('response', sa.Text(), nullable=True))
    op.add_column('resident_need', sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('resident_need', sa.Column('feedback', sa.String(length=20), nullable=True))
    op.add_column('resident_need', sa.Column('feedback_note', sa.Text(), nullable=True))
    op.add_column('resident_need', sa.Column('feedback_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_resident_need_due_on'), 'resident_need', ['due_on'], unique=False)
    op.create_index(op.f('ix_resident_need_responsible_id'), 'resident_need', ['responsible_id'], unique=False)
    if sqlite:
        _sqlite_edit("resident_need", foreign_key="CONSTRAINT fk_resident_need_responsible_id_app_user FOREIGN "
                     "KEY(responsible_id) REFERENCES app_user (id) ON DELETE SET NULL")
    else:
        op.create_foreign_key(op.f('fk_resident_need_responsible_id_app_user'), 'resident_need', 'app_user',
                              ['responsible_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # the roles before 0014 have no 网格长 or 楼栋长: such accounts are kept, disabled, as grid workers without grids
    op.get_bind().execute(sa.text("UPDATE app_user SET role = 'grid_worker', active = :off "
                                  "WHERE role IN ('grid_lead', 'building_lead')"), {"off": False})
    if sqlite:
        _sqlite_edit("resident_need", (", CONSTRAINT fk_resident_need_responsible_id_app_user FOREIGN "
                                       "KEY(responsible_id) REFERENCES app_user (id) ON DELETE SET NULL", ""))
        _sqlite_edit("grid", (", CONSTRAINT fk_grid_lead_id_app_user FOREIGN KEY(lead_id) REFERENCES "
                              "app_user (id) ON DELETE SET NULL", ""))
        _sqlite_edit("app_user", (NEW_ROLES, OLD_ROLES))
    else:
        op.drop_constraint(op.f('ck_app_user_role'), 'app_user', type_='check')
        op.create_check_constraint(op.f('ck_app_user_role'), 'app_user', OLD_ROLES)
        op.drop_constraint(op.f('fk_resident_need_responsible_id_app_user'), 'resident_need', type_='foreignkey')
    op.drop_index(op.f('ix_resident_need_responsible_id'), table_name='resident_need')
    op.drop_index(op.f('ix_resident_need_due_on'), table_name='resident_need')
    op.drop_column('resident_need', 'feedback_at')
    op.drop_column('resident_need', 'feedback_note')
    op.drop_column('resident_need', 'feedback')
    op.drop_column('resident_need', 'responded_at')
    op.drop_column('resident_need', 'response')
    op.drop_column('resident_need', 'due_on')
    op.drop_column('resident_need', 'responsible_id')
    op.drop_column('patrol_case', 'petition')
    op.drop_column('patrol_case', 'key_case')
    op.drop_column('patrol_case', 'demand_list')
    if not sqlite:
        op.drop_constraint(op.f('fk_grid_lead_id_app_user'), 'grid', type_='foreignkey')
    op.drop_index(op.f('ix_grid_lead_id'), table_name='grid')
    op.drop_column('grid', 'lead_id')
    op.drop_column('city', 'grid_households_max')
    op.drop_column('city', 'grid_households_min')
    op.drop_column('category', 'persuade_first')
    op.drop_column('category', 'top_level')
    op.drop_column('app_user', 'post')
    op.drop_index(op.f('ix_meeting_link_need_id'), table_name='meeting_link')
    op.drop_index(op.f('ix_meeting_link_meeting_id'), table_name='meeting_link')
    op.drop_index(op.f('ix_meeting_link_case_id'), table_name='meeting_link')
    op.drop_table('meeting_link')
    op.drop_index(op.f('ix_mediation_session_mediation_id'), table_name='mediation_session')
    op.drop_table('mediation_session')
    op.drop_index(op.f('ix_mediation_party_mediation_id'), table_name='mediation_party')
    op.drop_table('mediation_party')
    op.drop_index(op.f('ix_case_assessment_case_id'), table_name='case_assessment')
    op.drop_table('case_assessment')
    op.drop_index(op.f('ix_team_task_team_id'), table_name='team_task')
    op.drop_index(op.f('ix_team_task_case_id'), table_name='team_task')
    op.drop_table('team_task')
    op.drop_index(op.f('ix_service_record_on'), table_name='service_record')
    op.drop_index(op.f('ix_service_record_member_id'), table_name='service_record')
    op.drop_index(op.f('ix_service_record_household_id'), table_name='service_record')
    op.drop_table('service_record')
    op.drop_index(op.f('ix_service_pairing_member_id'), table_name='service_pairing')
    op.drop_index(op.f('ix_service_pairing_household_id'), table_name='service_pairing')
    op.drop_table('service_pairing')
    op.drop_index(op.f('ix_mediation_team_id'), table_name='mediation')
    op.drop_index(op.f('ix_mediation_outcome'), table_name='mediation')
    op.drop_index(op.f('ix_mediation_opened_at'), table_name='mediation')
    op.drop_index(op.f('ix_mediation_mediator_id'), table_name='mediation')
    op.drop_table('mediation')
    op.drop_index(op.f('ix_micro_grid_building_micro_grid_id'), table_name='micro_grid_building')
    op.drop_index(op.f('ix_micro_grid_building_building_id'), table_name='micro_grid_building')
    op.drop_table('micro_grid_building')
    op.drop_index(op.f('ix_service_member_grid_id'), table_name='service_member')
    op.drop_index(op.f('ix_service_member_community_id'), table_name='service_member')
    op.drop_table('service_member')
    op.drop_index(op.f('ix_micro_grid_plan_id'), table_name='micro_grid')
    op.drop_index(op.f('ix_micro_grid_leader_id'), table_name='micro_grid')
    op.drop_index(op.f('ix_micro_grid_grid_id'), table_name='micro_grid')
    op.drop_index(op.f('ix_micro_grid_grid_code'), table_name='micro_grid')
    with op.batch_alter_table('micro_grid', schema=None) as batch_op:
        batch_op.drop_geospatial_index('idx_micro_grid_geom', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('micro_grid')
    op.drop_index(op.f('ix_team_member_user_id'), table_name='team_member')
    op.drop_index(op.f('ix_team_member_team_id'), table_name='team_member')
    op.drop_table('team_member')
    op.drop_index(op.f('ix_meeting_status'), table_name='meeting')
    op.drop_index(op.f('ix_meeting_held_at'), table_name='meeting')
    op.drop_index(op.f('ix_meeting_community_id'), table_name='meeting')
    op.drop_table('meeting')
    op.drop_index(op.f('ix_volunteer_team_community_id'), table_name='volunteer_team')
    op.drop_table('volunteer_team')
