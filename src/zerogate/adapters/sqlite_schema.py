"""The SQLite schema of a zerogate store, and the pragmas that make it durable.

Durability: WAL with ``synchronous=FULL`` (the default here) makes every committed
transaction, acknowledgements included, survive a power loss. ``synchronous=NORMAL``
(``durability="normal"``) survives a process crash but may lose the last commits on
power loss; it is offered for throughput where that trade is acceptable.
"""

from __future__ import annotations

APPLICATION_ID = 0x7A67_7431  # "zgt1": marks a file as a zerogate store
SCHEMA_VERSION = 4

# Counts pending tasks (the live view) without reading finished history.
TASKS_PENDING = """
CREATE INDEX IF NOT EXISTS tasks_pending ON tasks(workflow_id) WHERE state = 'pending';
"""

# Rollups and findings of the telemetry layer; each engine instance (owner) writes its own.
TELEMETRY = """
CREATE TABLE IF NOT EXISTS telemetry (
    resolution TEXT NOT NULL,
    kind TEXT NOT NULL,
    bucket REAL NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (resolution, kind, bucket, name, owner)
) WITHOUT ROWID;
"""

# The HTTP API's keys and audit trail. Keys are few and read by primary key. Audit ids
# are AUTOINCREMENT: a plain rowid restarts after the newest entries are pruned, and an
# audit line must never take the id of one a reader has already seen.
API_TABLES = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    entry_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    actor TEXT,
    tenant TEXT,
    target TEXT,
    source TEXT,
    request_id TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
CREATE INDEX IF NOT EXISTS audit_tenant ON audit(tenant, entry_id);
"""

# A tenant's pages of workflows and tasks, newest first, without reading other tenants'
# rows. Tenant never changes, so state updates never touch these indexes.
TENANT_INDEXES = """
CREATE INDEX IF NOT EXISTS workflows_tenant ON workflows(tenant, id);
CREATE INDEX IF NOT EXISTS tasks_tenant ON tasks(tenant, id);
"""

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS workflows (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    tenant TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL,
    failure_policy TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    open_tasks INTEGER NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS workflows_pending ON workflows(priority, id)
    WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS workflows_running ON workflows(id) WHERE state = 'running';

CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY,
    workflow_id INTEGER NOT NULL,
    local_id TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL,
    eff_priority INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    key TEXT,
    deps_total INTEGER NOT NULL,
    deps_left INTEGER NOT NULL,
    children INTEGER NOT NULL,
    args TEXT NOT NULL,
    result TEXT,
    error TEXT,
    traceback TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until REAL,
    not_before REAL,
    timeout_s REAL,
    retry TEXT NOT NULL,
    created_at REAL NOT NULL,
    ready_at REAL,
    started_at REAL,
    finished_at REAL,
    feature TEXT,
    cpu REAL NOT NULL DEFAULT 0,
    memory INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_ready ON tasks(eff_priority, rank DESC, id)
    WHERE state IN ('waiting', 'retrying');
CREATE INDEX IF NOT EXISTS tasks_due ON tasks(not_before) WHERE state = 'retrying';
CREATE INDEX IF NOT EXISTS tasks_running ON tasks(owner, lease_until) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS tasks_workflow ON tasks(workflow_id);
{TASKS_PENDING}

CREATE TABLE IF NOT EXISTS edges (
    parent INTEGER NOT NULL,
    child INTEGER NOT NULL,
    PRIMARY KEY (parent, child)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_child ON edges(child, parent);

CREATE TABLE IF NOT EXISTS controls (
    scope TEXT PRIMARY KEY,
    changed_at REAL NOT NULL
);
{TELEMETRY}
{API_TABLES}
{TENANT_INDEXES}
"""

TASK_COLUMNS = (
    "t.id, t.workflow_id, t.local_id, t.name, t.state, t.priority, t.eff_priority, t.rank, "
    "t.tenant, t.key, t.attempt, t.failures, t.owner, t.lease_until, t.not_before, "
    "t.result, t.error, t.traceback, t.created_at, t.ready_at, t.started_at, t.finished_at, "
    "t.feature, t.cpu, t.memory"
)

# Each step takes a store from the version before it to the next one.
MIGRATIONS: dict[int, str] = {
    2: """
ALTER TABLE tasks ADD COLUMN feature TEXT;
ALTER TABLE tasks ADD COLUMN cpu REAL NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN memory INTEGER NOT NULL DEFAULT 0;
""",
    3: TASKS_PENDING + TELEMETRY,
    4: API_TABLES + TENANT_INDEXES,
}

WORKFLOW_COLUMNS = (
    "id, name, tenant, state, priority, failure_policy, idempotency_key, open_tasks, "
    "created_at, finished_at"
)
