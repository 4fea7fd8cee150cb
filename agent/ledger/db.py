"""The terminal's SQLite file: how it is opened, migrated and checked at boot.

Durability is the point of this file. The ledger runs in WAL mode with
``synchronous=FULL``: a commit returns only after the WAL is fsync'd, so a sale the
cashier saw confirmed survives a power cut (NORMAL could lose the last commits).
Writers take the lock up front with ``BEGIN IMMEDIATE`` so two writers never
deadlock half-way through a sale.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from agent.errors import IntegrityFailure, LedgerError

migrations = sqlite_utils.Migrations("vafa-agent")

BUSY_TIMEOUT_MS = 5000


def connect(path: Path, check_integrity: bool = True) -> sqlite3.Connection:
    """Open (creating if needed) the terminal database, migrated and checked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot open {path}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if check_integrity:
            _check_integrity(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise IntegrityFailure(f"{path} is damaged: {exc}") from exc
    migrations.apply(sqlite_utils.Database(conn))
    return conn


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        raise IntegrityFailure(f"SQLite integrity check failed for {path}: {'; '.join(result)}")


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block as one durable write transaction (BEGIN IMMEDIATE … COMMIT)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    """Create members, ledger, sales, outbox and settings tables."""
    db.executescript(_SCHEMA_001)


_SCHEMA_001 = """
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('outbox_seq', 0), ('receipt_no', 0);

-- PII is encrypted (AES-GCM, row id as associated data); lookup by keyed HMAC of the mobile.
CREATE TABLE members (
    id TEXT PRIMARY KEY,
    card_code TEXT NOT NULL UNIQUE,
    mobile_hmac BLOB NOT NULL UNIQUE,
    mobile_enc BLOB NOT NULL,
    name_enc BLOB NOT NULL,
    tier TEXT NOT NULL DEFAULT 'normal',
    marketing_consent INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('member_points', 'member_credit', 'system')),
    member_id TEXT REFERENCES members(id)
);

CREATE TABLE entries (
    id TEXT PRIMARY KEY CHECK (length(id) = 32),
    kind TEXT NOT NULL,
    sale_id TEXT,
    reverses TEXT REFERENCES entries(id),
    memo TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE TABLE postings (
    entry_id TEXT NOT NULL REFERENCES entries(id),
    account_id TEXT NOT NULL REFERENCES accounts(id),
    amount INTEGER NOT NULL CHECK (amount != 0),
    PRIMARY KEY (entry_id, account_id)
);
CREATE INDEX postings_account ON postings(account_id);
-- Cached balances, always equal to a replay of the postings (checked by `ledger verify`).
CREATE TABLE balances (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id),
    balance INTEGER NOT NULL
);
CREATE TRIGGER entries_immutable_u BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;
CREATE TRIGGER entries_immutable_d BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;
CREATE TRIGGER postings_immutable_u BEFORE UPDATE ON postings
    BEGIN SELECT RAISE(ABORT, 'ledger postings are immutable'); END;
CREATE TRIGGER postings_immutable_d BEFORE DELETE ON postings
    BEGIN SELECT RAISE(ABORT, 'ledger postings are immutable'); END;

CREATE TABLE sales (
    id TEXT PRIMARY KEY CHECK (length(id) = 32),
    receipt_no INTEGER NOT NULL UNIQUE,
    member_id TEXT NOT NULL REFERENCES members(id),
    amount_rial INTEGER NOT NULL CHECK (amount_rial >= 0),
    points_earned INTEGER NOT NULL,
    points_redeemed INTEGER NOT NULL,
    channel TEXT NOT NULL DEFAULT 'in_store',
    created_at TEXT NOT NULL
);
CREATE INDEX sales_created ON sales(created_at);

-- One row per event, written in the same transaction as the ledger entries it reports.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,  -- sealed canonical JSON of the event
    created_at TEXT NOT NULL,
    acked_at TEXT
);
CREATE INDEX outbox_pending ON outbox(seq) WHERE acked_at IS NULL;

CREATE TABLE receipts (
    job_id TEXT PRIMARY KEY,
    sale_id TEXT NOT NULL REFERENCES sales(id),
    escpos BLOB NOT NULL,
    printed_at TEXT
);
"""


@migrations()
def m002_lots_and_refunds(db: sqlite_utils.Database) -> None:
    """Track earned points as lots (for oldest-first expiry) and mark refunded sales."""
    db.executescript(_SCHEMA_002)


_SCHEMA_002 = """
-- Each earn entry opens a lot; redemptions, expiry and refunds draw on lots oldest first.
-- The sum of a member's open lots always equals their points balance (checked by verify).
CREATE TABLE lots (
    entry_id TEXT PRIMARY KEY REFERENCES entries(id),
    member_id TEXT NOT NULL REFERENCES members(id),
    points INTEGER NOT NULL CHECK (points > 0),
    remaining INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= points),
    earned_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX lots_open ON lots(member_id, expires_at) WHERE remaining > 0;
CREATE INDEX lots_due ON lots(expires_at) WHERE remaining > 0;
-- How each entry moved lots: positive points were taken from the lot, negative put back.
CREATE TABLE lot_moves (
    entry_id TEXT NOT NULL REFERENCES entries(id),
    lot_id TEXT NOT NULL REFERENCES lots(entry_id),
    points INTEGER NOT NULL CHECK (points != 0),
    PRIMARY KEY (entry_id, lot_id)
);
ALTER TABLE sales ADD COLUMN event_id TEXT REFERENCES outbox(event_id);
ALTER TABLE sales ADD COLUMN refunded_at TEXT;
ALTER TABLE sales ADD COLUMN refund_event_id TEXT;
"""


@migrations()
def m003_member_birthday(db: sqlite_utils.Database) -> None:
    """Keep the member's Jalali birthday (MM-DD), encrypted like the other personal fields."""
    db.execute("ALTER TABLE members ADD COLUMN birthday_enc BLOB")


@migrations()
def m004_points_elsewhere(db: sqlite_utils.Database) -> None:
    """Remember each member's points held at other stores, as the cloud last reported."""
    db.execute("ALTER TABLE members ADD COLUMN points_elsewhere INTEGER NOT NULL DEFAULT 0")


@migrations(transactional=False)  # a table rebuild needs foreign keys off, outside a transaction
def m005_member_drawn_accounts(db: sqlite_utils.Database) -> None:
    """Allow 'member_drawn' accounts: points held at other stores, redeemed here."""
    conn = db.conn
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'accounts'").fetchone()
    if "member_drawn" in sql:  # rebuilt already; only the record of it was lost
        return
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        with write_transaction(conn):
            for statement in _ACCOUNTS_005.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise LedgerError(f"accounts rebuild broke {len(broken)} references")
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


_ACCOUNTS_005 = """
CREATE TABLE accounts_new (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL
        CHECK (kind IN ('member_points', 'member_credit', 'member_drawn', 'system')),
    member_id TEXT REFERENCES members(id)
);
INSERT INTO accounts_new (id, kind, member_id) SELECT id, kind, member_id FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;
"""


@migrations()
def m006_grants_and_credit(db: sqlite_utils.Database) -> None:
    """Record grants booked from the cloud (once each) and credit redeemed by sales."""
    db.executescript(_SCHEMA_006)


_SCHEMA_006 = """
CREATE TABLE grants (
    grant_id TEXT PRIMARY KEY CHECK (length(grant_id) = 32),
    member_id TEXT NOT NULL REFERENCES members(id),
    kind TEXT NOT NULL CHECK (kind IN ('points', 'credit')),
    amount INTEGER NOT NULL CHECK (amount > 0),
    reason TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    entry_id TEXT NOT NULL REFERENCES entries(id),
    event_id TEXT NOT NULL REFERENCES outbox(event_id),
    applied_at TEXT NOT NULL
);
CREATE INDEX grants_member ON grants(member_id);
ALTER TABLE sales ADD COLUMN credit_redeemed_rial INTEGER NOT NULL DEFAULT 0
    CHECK (credit_redeemed_rial >= 0);
"""


@migrations()
def m007_coupons(db: sqlite_utils.Database) -> None:
    """Keep the members' coupons pulled from the cloud, and which sale used each."""
    db.executescript(_SCHEMA_007)


_SCHEMA_007 = """
CREATE TABLE coupons (
    code TEXT PRIMARY KEY,
    member_id TEXT NOT NULL REFERENCES members(id),
    value_rial INTEGER NOT NULL CHECK (value_rial > 0),
    min_purchase_rial INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT NOT NULL,
    used_sale_id TEXT REFERENCES sales(id)
);
CREATE INDEX coupons_member ON coupons(member_id);
ALTER TABLE sales ADD COLUMN coupon_code TEXT;
ALTER TABLE sales ADD COLUMN coupon_rial INTEGER NOT NULL DEFAULT 0;
"""


@migrations()
def m008_member_demographics(db: sqlite_utils.Database) -> None:
    """Keep what a member tells at enrolment beyond name and mobile: gender ("f"/"m"),
    province and city (names from common/iran_places.toml) and the Jalali birth year.

    They are coarse and in clear, as at the cloud, so the owner's pages can count them
    without the PII key; the full birthday (month and day) stays in ``birthday_enc``.
    """
    db.executescript(_SCHEMA_008)


_SCHEMA_008 = """
ALTER TABLE members ADD COLUMN gender TEXT CHECK (gender IN ('f', 'm'));
ALTER TABLE members ADD COLUMN province TEXT;
ALTER TABLE members ADD COLUMN city TEXT;
ALTER TABLE members ADD COLUMN birth_year INTEGER;
-- The owner's pages count members joined per Jalali day.
CREATE INDEX members_created ON members(created_at);
"""


@migrations()
def m009_refunds_by_day(db: sqlite_utils.Database) -> None:
    """Index refunds by when they happened: the owner's day figures count them per day."""
    db.execute("CREATE INDEX sales_refunded ON sales(refunded_at) WHERE refunded_at IS NOT NULL")


@migrations()
def m010_enrolments_by_day(db: sqlite_utils.Database) -> None:
    """Index the outbox by kind and time: the owner's "members joined" counts the enrolments
    made at this terminal (members pulled from the cloud are not joins)."""
    db.execute("CREATE INDEX outbox_kind_created ON outbox(kind, created_at)")


@migrations()
def m011_member_suggestions(db: sqlite_utils.Database) -> None:
    """Keep the cloud's "not bought yet, but likely" categories per member (a JSON list),
    for the cashier to offer: they arrive with the member's snapshot."""
    db.execute("ALTER TABLE members ADD COLUMN suggestions TEXT")


@migrations()
def m012_gift_handover(db: sqlite_utils.Database) -> None:
    """Mark the cloud's surprise gifts and record when the cashier handed each over (once),
    by whom, the outbox event that tells the cloud, and the gift slip printed for it."""
    db.executescript(_SCHEMA_012)


_SCHEMA_012 = """
ALTER TABLE grants ADD COLUMN gift INTEGER NOT NULL DEFAULT 0 CHECK (gift IN (0, 1));
ALTER TABLE grants ADD COLUMN handed_over_at TEXT;
ALTER TABLE grants ADD COLUMN handed_over_by TEXT;
ALTER TABLE grants ADD COLUMN handover_event_id TEXT REFERENCES outbox(event_id);
ALTER TABLE grants ADD COLUMN slip_escpos BLOB;
ALTER TABLE grants ADD COLUMN slip_printed_at TEXT;
CREATE INDEX grants_gifts_waiting ON grants(member_id) WHERE gift = 1 AND handed_over_at IS NULL;
"""


@migrations()
def m013_owner_notes(db: sqlite_utils.Database) -> None:
    """Keep the store's open notes from HQ's scenarios, as the last pull delivered them, for
    the owner's pages (replaced whole at each pull: a note closed at HQ leaves)."""
    db.executescript(_SCHEMA_013)


_SCHEMA_013 = """
CREATE TABLE owner_notes (
    id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL,
    scenario TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


@migrations()
def m014_store_gifts(db: sqlite_utils.Database) -> None:
    """Keep the store's surprise gifts booked by other tills and waiting for a hand-over, as
    the last pull delivered them, so any till of the store may hand one over. A row this
    till handed over stays (its hand-over and slip, recorded once, as on ``grants``); the
    others are replaced at each pull. A gift this till booked but another till handed over
    is marked on ``grants`` and leaves the card."""
    db.executescript(_SCHEMA_014)


_SCHEMA_014 = """
CREATE TABLE store_gifts (
    grant_id TEXT PRIMARY KEY CHECK (length(grant_id) = 32),
    member_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('points', 'credit')),
    amount INTEGER NOT NULL CHECK (amount > 0),
    note TEXT NOT NULL DEFAULT '',
    applied_at TEXT NOT NULL,
    handed_over_at TEXT,
    handed_over_by TEXT,
    handover_event_id TEXT REFERENCES outbox(event_id),
    slip_escpos BLOB,
    slip_printed_at TEXT
);
CREATE INDEX store_gifts_member ON store_gifts(member_id);
ALTER TABLE grants ADD COLUMN handed_over_elsewhere_at TEXT;
"""
