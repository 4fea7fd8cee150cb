"""The cloud's schema in SQLAlchemy Core: one definition for SQLite and PostgreSQL.

Personal fields (mobile, name) are AES-GCM ciphertext; members are found by a keyed HMAC.
Times are UTC, set by the cloud's clock; a terminal's own clock is kept only as
``terminal_time``, for information.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

Time = sa.DateTime(timezone=True)

stores = sa.Table(
    "stores",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

enrolment_codes = sa.Table(
    "enrolment_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id"), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("used_at", Time),
)

terminals = sa.Table(
    "terminals",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id"), nullable=False),
    sa.Column("public_key", sa.String(64), nullable=False, unique=True),
    sa.Column("hostname", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("revoked_at", Time),
    sa.Column("last_seen_at", Time),
    sa.Column("contiguous_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("highest_seq", sa.BigInteger, nullable=False, server_default="0"),
    # What the terminal last said of itself with a sync request (cloud/fleet.py).
    sa.Column("agent_version", sa.String(40)),
    sa.Column("queue_depth", sa.Integer),
    sa.Column("reported_at", Time),
)

nonces = sa.Table(
    "nonces",
    metadata,
    sa.Column("terminal_id", sa.String(32), primary_key=True),
    sa.Column("nonce", sa.String(32), primary_key=True),
    sa.Column("seen_at", Time, nullable=False, index=True),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("terminal_id", sa.String(32), sa.ForeignKey("terminals.id"), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    # The event as received, sealed with the PII key (the event id is the associated data):
    # enrolments carry mobile, name and birthday. Read only to name the field a changed
    # resend differs in.
    sa.Column("body_enc", sa.LargeBinary),
    sa.Column("received_at", Time, nullable=False),
    sa.UniqueConstraint("terminal_id", "seq", name="events_terminal_seq"),
    # The analytics pass reads only the events received since a moment (new sale lines,
    # the open month's points).
    sa.Index("events_received_at", "received_at"),
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("card_code", sa.String(32), nullable=False, unique=True),
    sa.Column("mobile_hmac", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("mobile_enc", sa.LargeBinary, nullable=False),
    sa.Column("name_enc", sa.LargeBinary, nullable=False),
    sa.Column("home_store_id", sa.String(32), sa.ForeignKey("stores.id"), nullable=False),
    sa.Column("tier", sa.String(20), nullable=False, server_default="normal"),
    sa.Column("marketing_consent", sa.Boolean, nullable=False),
    sa.Column("enrolled_at", Time, nullable=False),
    sa.Column("birthday_enc", sa.LargeBinary),
    # The member's own referral code (common.referral), and the code they enrolled with.
    sa.Column("referral_code", sa.String(12), index=True),
    sa.Column("referred_by", sa.String(32)),  # the referrer's member id
    # Keyed HMAC of the Jalali "MM-DD": today's birthdays are found without opening them.
    sa.Column("birthday_hmac", sa.LargeBinary(32), index=True),
    # Demographics for analytics and scenario conditions, kept in clear (coarse, no name or
    # mobile): gender "f" | "m", province and city as chosen from common's list, and the
    # Jalali birth year (age groups); each is optional at enrolment.
    sa.Column("gender", sa.String(1)),
    sa.Column("province", sa.String(40)),
    sa.Column("city", sa.String(60)),
    sa.Column("birth_year", sa.Integer),
    # Bumped from the ``member_version`` counter whenever the member or their points change:
    # terminals pull the members whose version passed their cursor.
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0", index=True),
    # Set for members added from an existing club's list (cloud/imports): they joined the
    # club before, so the enrolment trigger of scenarios (welcome) leaves them out.
    sa.Column("imported_at", Time),
    sa.Index("members_province_city", "province", "city"),
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)

# Each member's points as moved by each terminal (its points and drawn postings summed),
# kept up to date by ingest: chain-wide balances and "points elsewhere" are key look-ups.
member_terminal_points = sa.Table(
    "member_terminal_points",
    metadata,
    sa.Column("member_id", sa.String(32), primary_key=True),
    sa.Column("terminal_id", sa.String(32), sa.ForeignKey("terminals.id"), primary_key=True),
    sa.Column("points", sa.BigInteger, nullable=False),
)

# A member whose chain-wide points went below zero (the same points redeemed at two offline
# stores): what they owe now, kept until later earnings settle it (cloud/balances.py).
member_overdrafts = sa.Table(
    "member_overdrafts",
    metadata,
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("opened_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("settled_at", Time),
)

# Points or credit the cloud gives a member (a review, a survey, a referral, a scenario, a
# manual adjustment): handed to one terminal of the member's home store at its next pull,
# booked there in its ledger, and marked applied when that terminal's event arrives.
grants = sa.Table(
    "grants",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # points | credit
    sa.Column("amount", sa.BigInteger, nullable=False),  # points, or Rials of credit
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("note", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_by", sa.String(80), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("terminal_id", sa.String(32), sa.ForeignKey("terminals.id"), index=True),
    sa.Column("assigned_at", Time),
    sa.Column("event_id", sa.String(32)),
    sa.Column("applied_at", Time),
    # A scenario's surprise gift (0021): the terminal shows it at the member's next visit and
    # reports when the cashier handed it over (``gift.handed_over``).
    sa.Column("gift", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("handed_over_at", Time),
    sa.Column("handover_event_id", sa.String(32)),
)

# A coupon for one member: a Rial discount with an expiry, sent to terminals with the
# member's snapshot. ``uses`` above 1 means two offline stores both honoured it.
coupons = sa.Table(
    "coupons",
    metadata,
    sa.Column("code", sa.String(20), primary_key=True),
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("value_rial", sa.BigInteger, nullable=False),
    sa.Column("min_purchase_rial", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("created_by", sa.String(80), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("uses", sa.Integer, nullable=False, server_default="0"),
    sa.Column("sale_id", sa.String(32)),  # the first sale that used it
    sa.Column("redeemed_at", Time),
)

sales = sa.Table(
    "sales",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # NULL event and terminal: an order from another channel (website, Instagram,
    # WhatsApp) imported by HQ (cloud/imports/, ``channel_orders``); it moves no points.
    sa.Column("event_id", sa.String(32), sa.ForeignKey("events.id")),
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), nullable=False),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id"), nullable=False),
    sa.Column("terminal_id", sa.String(32), sa.ForeignKey("terminals.id")),
    sa.Column("receipt_no", sa.BigInteger, nullable=False),  # 0 for a channel order
    sa.Column("amount_rial", sa.BigInteger, nullable=False),
    sa.Column("points_earned", sa.BigInteger, nullable=False),
    sa.Column("points_redeemed", sa.BigInteger, nullable=False),
    sa.Column("credit_redeemed_rial", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("coupon_code", sa.String(20)),
    sa.Column("coupon_rial", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("terminal_time", sa.String(40), nullable=False),
    sa.Column("received_at", Time, nullable=False),
    sa.Column("refunded_at", Time),
    # A member's sales, and everything the order patterns read of them: the analytics pass
    # groups by member and channel straight off this index, never touching the table.
    sa.Index(
        "sales_member_pattern", "member_id", "channel", "refunded_at", "received_at", "amount_rial"
    ),
    # The refunded sales, for the kept category spend (analytics/keptspend.py). Partial: a
    # plain index on refunded_at drew "refunded_at IS NULL" queries (every kept sale)
    # away from the covering index above.
    sa.Index(
        "sales_refunded",
        "id",
        sqlite_where=sa.text("refunded_at IS NOT NULL"),
        postgresql_where=sa.text("refunded_at IS NOT NULL"),
    ),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("event_id", sa.String(32), sa.ForeignKey("events.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("reverses", sa.String(32)),
    sa.Column("memo", sa.String(200), nullable=False, server_default=""),
)

ledger_postings = sa.Table(
    "ledger_postings",
    metadata,
    sa.Column("entry_id", sa.String(32), sa.ForeignKey("ledger_entries.id"), primary_key=True),
    sa.Column("account", sa.String(80), primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Index("ledger_postings_account", "account"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(80), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

# The stores a store owner may see (admins and marketers see every store). Checked in
# every query a store owner's page makes, not only in the menus.
user_stores = sa.Table(
    "user_stores",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id"), primary_key=True),
)

# Bearer tokens for HQ's JSON API (scripts, the POS of a chain, other systems). Only the
# SHA-256 of a token is kept; the token itself is shown once, when it is made.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("last_used_at", Time),
    sa.Column("revoked_at", Time),
)

# Every SMS the cloud sent: to whom, why, through which provider, and what became of it.
# The text is sealed like other PII (it may name the member); the message id is its AAD.
sms_messages = sa.Table(
    "sms_messages",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("purpose", sa.String(40), nullable=False),  # e.g. birthday, win-back, otp
    sa.Column("marketing", sa.Boolean, nullable=False),
    sa.Column("provider", sa.String(20), nullable=False),
    sa.Column("provider_id", sa.String(64), index=True),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("body_enc", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # queued sent delivered undelivered …
    sa.Column("created_at", Time, nullable=False),
    sa.Column("status_at", Time),
)

# Retention scenarios as data (cloud/scenarios/): trigger, conditions, actions, guardrails.
scenarios = sa.Table(
    "scenarios",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),  # JSON, checked by scenarios.model
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)

# One row per member per scenario per period: a rerun finds it and sends nothing twice.
scenario_entries = sa.Table(
    "scenario_entries",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("scenario_id", sa.String(40), sa.ForeignKey("scenarios.id"), nullable=False),
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), nullable=False),
    sa.Column("period", sa.String(20), nullable=False),
    sa.Column("arm", sa.String(10), nullable=False),  # control, A, B
    sa.Column("outcome", sa.String(40), nullable=False),  # acted, control, skipped:<why>
    sa.Column("cost_rial", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", Time, nullable=False),
    sa.UniqueConstraint("scenario_id", "member_id", "period", name="scenario_entry_once"),
)

# A member's answer behind their receipt's QR: one per sale. The comment is sealed (people
# write names and numbers in comments); the feedback id is its associated data.
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("sale_id", sa.String(32), nullable=False, unique=True),
    sa.Column("terminal_id", sa.String(32), sa.ForeignKey("terminals.id"), nullable=False),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id"), nullable=False),
    sa.Column("member_id", sa.String(32), index=True),  # known once the sale has synced
    sa.Column("nps", sa.Integer, nullable=False),
    sa.Column("comment_enc", sa.LargeBinary),
    sa.Column("created_at", Time, nullable=False, index=True),
    # The comment's sentiment (cloud/analytics/sentiment.py): positive, neutral, negative;
    # NULL without a comment, or until the analytics run scores one stored before.
    sa.Column("sentiment", sa.String(8)),
    sa.Column("sentiment_score", sa.Float),
)

# A referral rewarded: both members got their points when the referred one first bought.
referral_rewards = sa.Table(
    "referral_rewards",
    metadata,
    sa.Column("referred_id", sa.String(32), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("referrer_id", sa.String(32), sa.ForeignKey("members.id"), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),  # Jalali YYYY-MM, for the monthly cap
    sa.Column("outcome", sa.String(20), nullable=False),  # rewarded, capped
    sa.Column("created_at", Time, nullable=False),
    sa.Index("referral_rewards_referrer_month", "referrer_id", "month"),
)

# Occasions by Jalali date, per year (lunar ones move): Nowruz, Yalda, Ramadan's end …
occasions = sa.Table(
    "occasions",
    metadata,
    sa.Column("jalali_date", sa.String(10), primary_key=True),  # YYYY-MM-DD
    sa.Column("key", sa.String(40), primary_key=True),  # nowruz, yalda, fitr …
    sa.Column("name_fa", sa.String(80), nullable=False),
)

# Analytics results (cloud/analytics/), rewritten by each `vafa-cloud analytics run`.
member_analytics = sa.Table(
    "member_analytics",
    metadata,
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("computed_on", sa.Date, nullable=False),
    sa.Column("purchases", sa.BigInteger, nullable=False),
    sa.Column("value_rial", sa.BigInteger, nullable=False),
    sa.Column("avg_payment_rial", sa.BigInteger, nullable=False),
    sa.Column("first_purchase_at", Time, nullable=False),
    sa.Column("last_purchase_at", Time, nullable=False),
    sa.Column("mean_interval_days", sa.Float),  # NULL with a single purchase
    sa.Column("gap_days", sa.Float, nullable=False),
    sa.Column("cycle", sa.String(12), nullable=False),  # in_cycle, due, late, lapsed, single
    sa.Column("channels", sa.Text, nullable=False),  # JSON {"store": 3, "instagram": 1}
    sa.Column("r", sa.SmallInteger, nullable=False),
    sa.Column("f", sa.SmallInteger, nullable=False),
    sa.Column("m", sa.SmallInteger, nullable=False),
    sa.Column("segment", sa.String(20), nullable=False, index=True),
    sa.Column("p_alive", sa.Float),  # NULL when the CLV models could not be fitted
    sa.Column("expected_purchases_90d", sa.Float),
    sa.Column("clv_rial", sa.BigInteger),
)

# A member's segment from the analysis day it changed (or first appeared): their segment on
# any day is their latest row on or before it; the source of segment transitions.
segment_history = sa.Table(
    "segment_history",
    metadata,
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("computed_on", sa.Date, primary_key=True),
    sa.Column("segment", sa.String(20), nullable=False),
)

# Aggregates the HQ pages read, rewritten by each analytics run (cloud/analytics/aggregates.py).
# One row per run day: the chain's figures on that day.
analytics_runs = sa.Table(
    "analytics_runs",
    metadata,
    sa.Column("computed_on", sa.Date, primary_key=True),
    sa.Column("as_of", Time, nullable=False),
    sa.Column("finished_at", Time, nullable=False),
    sa.Column("members", sa.BigInteger, nullable=False),  # enrolled
    sa.Column("buying_members", sa.BigInteger, nullable=False),  # analysed (bought once or more)
    sa.Column("activation_rate", sa.Float, nullable=False),
    sa.Column("active_30d", sa.BigInteger, nullable=False),
    sa.Column("active_90d", sa.BigInteger, nullable=False),
    sa.Column("points_liability", sa.BigInteger, nullable=False),  # every member's points
    sa.Column("clv_fitted", sa.Boolean, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
)

# KPIs per store ("*" = chain-wide) and Jalali month, as of the latest run: every store and
# every month from the first enrolment, sale or points move to the run's day.
analytics_kpis = sa.Table(
    "analytics_kpis",
    metadata,
    sa.Column("store_id", sa.String(32), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),  # Jalali YYYY-MM
    sa.Column("computed_on", sa.Date, nullable=False),
    sa.Column("sales", sa.BigInteger, nullable=False),
    sa.Column("revenue_rial", sa.BigInteger, nullable=False),
    sa.Column("average_purchase_rial", sa.BigInteger, nullable=False),
    sa.Column("buyers", sa.BigInteger, nullable=False),
    sa.Column("returning_buyers", sa.BigInteger, nullable=False),  # bought in an earlier month
    sa.Column("return_rate", sa.Float, nullable=False),
    sa.Column("new_members", sa.BigInteger, nullable=False),  # enrolled (home store) this month
    sa.Column("members", sa.BigInteger, nullable=False),  # enrolled by the month's end
    sa.Column("activated_members", sa.BigInteger, nullable=False),  # …and bought by then
    sa.Column("activation_rate", sa.Float, nullable=False),
    sa.Column("active_30d", sa.BigInteger, nullable=False),  # bought in the 30 days to its end
    sa.Column("active_90d", sa.BigInteger, nullable=False),
    sa.Column("points_earned", sa.BigInteger, nullable=False),
    sa.Column("points_redeemed", sa.BigInteger, nullable=False),
    sa.Column("redemption_rate", sa.Float, nullable=False),  # redeemed / earned
    sa.Column("points_liability", sa.BigInteger, nullable=False),  # net points by its end
)

# Cohort retention as of the latest run: members first buying in a Jalali month, and the
# share of them buying again ``months_since`` months later (0 = their first month). Per
# store, a cohort is the members whose first purchase at that store was in the month.
analytics_cohorts = sa.Table(
    "analytics_cohorts",
    metadata,
    sa.Column("store_id", sa.String(32), primary_key=True, server_default="*"),  # "*" = chain
    sa.Column("cohort", sa.String(7), primary_key=True),
    sa.Column("months_since", sa.SmallInteger, primary_key=True),
    sa.Column("computed_on", sa.Date, nullable=False),
    sa.Column("cohort_members", sa.BigInteger, nullable=False),
    sa.Column("active_members", sa.BigInteger, nullable=False),
    sa.Column("retention", sa.Float, nullable=False),
)

# Per run (kept for trends): members, value and CLV per segment. The per-member aggregates
# below are stored per home store and chain-wide ("*"); each member has one home store, so
# the stores' rows add up to the chain's.
analytics_segments = sa.Table(
    "analytics_segments",
    metadata,
    sa.Column("computed_on", sa.Date, primary_key=True),
    sa.Column("store_id", sa.String(32), primary_key=True, server_default="*"),  # "*" = chain
    sa.Column("segment", sa.String(20), primary_key=True),
    sa.Column("members", sa.BigInteger, nullable=False),
    sa.Column("value_rial", sa.BigInteger, nullable=False),
    sa.Column("clv_rial", sa.BigInteger),  # summed; NULL when CLV was not fitted
)

# Per run: members moving between segments since the previous run ("" = first analysed).
analytics_transitions = sa.Table(
    "analytics_transitions",
    metadata,
    sa.Column("computed_on", sa.Date, primary_key=True),
    sa.Column("store_id", sa.String(32), primary_key=True, server_default="*"),  # "*" = chain
    sa.Column("from_segment", sa.String(20), primary_key=True),
    sa.Column("to_segment", sa.String(20), primary_key=True),
    sa.Column("members", sa.BigInteger, nullable=False),
)

# Per run: the CLV histogram on fixed Rial edges (comparable from run to run).
analytics_clv_buckets = sa.Table(
    "analytics_clv_buckets",
    metadata,
    sa.Column("computed_on", sa.Date, primary_key=True),
    sa.Column("store_id", sa.String(32), primary_key=True, server_default="*"),  # "*" = chain
    sa.Column("bucket", sa.SmallInteger, primary_key=True),
    sa.Column("low_rial", sa.BigInteger, nullable=False),
    sa.Column("high_rial", sa.BigInteger),  # NULL: open-ended top bucket
    sa.Column("members", sa.BigInteger, nullable=False),
)

# Per run: members by age group, gender, province and city ("" = not given).
analytics_demographics = sa.Table(
    "analytics_demographics",
    metadata,
    sa.Column("computed_on", sa.Date, primary_key=True),
    sa.Column("store_id", sa.String(32), primary_key=True, server_default="*"),  # "*" = chain
    sa.Column("dimension", sa.String(12), primary_key=True),  # age, gender, province, city
    sa.Column("value", sa.String(100), primary_key=True),
    sa.Column("members", sa.BigInteger, nullable=False),
    sa.Column("buying_members", sa.BigInteger, nullable=False),
)

# A member's segment changed between two runs: the "segment changed" trigger's source.
segment_changes = sa.Table(
    "segment_changes",
    metadata,
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("changed_on", sa.Date, primary_key=True, index=True),
    sa.Column("from_segment", sa.String(20), nullable=False),
    sa.Column("to_segment", sa.String(20), nullable=False),
)

# Sale lines as the POS sent them, taken by the analytics run from the sealed sale events
# (ingest keeps only totals in ``sales``): the source of category preferences.
sale_lines = sa.Table(
    "sale_lines",
    metadata,
    sa.Column("sale_id", sa.String(32), primary_key=True),
    sa.Column("line_no", sa.SmallInteger, primary_key=True),
    sa.Column("member_id", sa.String(32), nullable=False),
    sa.Column("category", sa.String(64), nullable=False),  # "" when the POS sent none
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("amount_rial", sa.BigInteger, nullable=False),
    sa.Column("received_at", Time, nullable=False),
    # Spend per member and category, counted off the index alone (see sales_member_pattern).
    sa.Index(
        "sale_lines_member_category",
        "member_id",
        "category",
        "sale_id",
        "amount_rial",
        "received_at",
    ),
    sa.Index("sale_lines_received_at", "received_at"),
)

# Members' spend per category over the kept sales' lines received up to a boundary, kept
# from one analytics pass to the next and brought up to date from the lines received since
# (cloud/analytics/keptspend.py): grouping every line again took most of a pass at a
# million members. Refunded sales' lines are left out; ``spend_refunds`` names the
# refunded sales already left out, so a later refund of a counted sale is taken off once.
member_category_spend = sa.Table(
    "member_category_spend",
    metadata,
    sa.Column("member_id", sa.String(32), primary_key=True),
    sa.Column("category", sa.String(64), primary_key=True),
    sa.Column("purchases", sa.Integer, nullable=False),  # sales with the category
    sa.Column("amount_rial", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,  # kept in key order: read member by member without sorting
)

spend_refunds = sa.Table(
    "spend_refunds",
    metadata,
    sa.Column("sale_id", sa.String(32), primary_key=True),
)

# The ledger's net points booked to members per store and Jalali month, for the months
# that closed before a boundary (cloud/analytics/grid.py): nothing received later belongs
# to them, so each pass reads only the events of the months since.
points_closed_months = sa.Table(
    "points_closed_months",
    metadata,
    sa.Column("store_id", sa.String(32), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("net_points", sa.BigInteger, nullable=False),
)

# Per member, as of the latest run: spend per category and its affinity (the member's share
# of spend in the category over the chain's share; above 1 = more than the average member).
member_categories = sa.Table(
    "member_categories",
    metadata,
    sa.Column("member_id", sa.String(32), primary_key=True),
    sa.Column("category", sa.String(64), primary_key=True),
    sa.Column("computed_on", sa.Date, nullable=False),
    sa.Column("purchases", sa.Integer, nullable=False),  # sales with the category
    sa.Column("amount_rial", sa.BigInteger, nullable=False),
    sa.Column("share", sa.Float, nullable=False),
    sa.Column("affinity", sa.Float, nullable=False),
)

# "Not bought yet, but likely": categories members of the same segment buy together with
# what this member buys (mean co-purchase lift), best first.
member_suggestions = sa.Table(
    "member_suggestions",
    metadata,
    sa.Column("member_id", sa.String(32), primary_key=True),
    sa.Column("rank", sa.SmallInteger, primary_key=True),
    sa.Column("computed_on", sa.Date, nullable=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("lift", sa.Float, nullable=False),
)

# Which incentive a member answers: scenario actions received (treated arm) and purchases
# within the response window after them, per action type (sms, points, coupon …).
member_incentives = sa.Table(
    "member_incentives",
    metadata,
    sa.Column("member_id", sa.String(32), primary_key=True),
    sa.Column("incentive", sa.String(10), primary_key=True),
    sa.Column("computed_on", sa.Date, nullable=False),
    sa.Column("offers", sa.Integer, nullable=False),
    sa.Column("responses", sa.Integer, nullable=False),
    sa.Column("response_rate", sa.Float, nullable=False),
)

# Per run: each category's buyers, sales and spend per home store and chain-wide.
analytics_categories = sa.Table(
    "analytics_categories",
    metadata,
    sa.Column("computed_on", sa.Date, primary_key=True),
    sa.Column("store_id", sa.String(32), primary_key=True, server_default="*"),  # "*" = chain
    sa.Column("category", sa.String(64), primary_key=True),
    sa.Column("members", sa.BigInteger, nullable=False),
    sa.Column("sales", sa.BigInteger, nullable=False),
    sa.Column("amount_rial", sa.BigInteger, nullable=False),
)

# Feedback per store ("*" = chain-wide) and Jalali month, as of the latest run: NPS and the
# comments' sentiment, for the HQ satisfaction page.
analytics_feedback = sa.Table(
    "analytics_feedback",
    metadata,
    sa.Column("store_id", sa.String(32), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("computed_on", sa.Date, nullable=False),
    sa.Column("responses", sa.BigInteger, nullable=False),
    sa.Column("promoters", sa.BigInteger, nullable=False),  # 9-10
    sa.Column("passives", sa.BigInteger, nullable=False),  # 7-8
    sa.Column("detractors", sa.BigInteger, nullable=False),  # 0-6
    sa.Column("nps", sa.Float, nullable=False),  # % promoters - % detractors
    sa.Column("comments", sa.BigInteger, nullable=False),
    sa.Column("positive", sa.BigInteger, nullable=False),
    sa.Column("neutral", sa.BigInteger, nullable=False),
    sa.Column("negative", sa.BigInteger, nullable=False),
)

# Notes scenarios leave for a store's owner (0021, cloud/owner_notes.py): one per scenario
# entry; the member is named by id only, the page shows a first name and a masked mobile.
owner_notes = sa.Table(
    "owner_notes",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("entry_id", sa.String(32), sa.ForeignKey("scenario_entries.id"), unique=True),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id"), nullable=False, index=True),
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), nullable=False),
    sa.Column("scenario_id", sa.String(40), nullable=False),
    sa.Column("text", sa.String(500), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("done_at", Time),
    sa.Column("done_by", sa.String(80)),
)

# As of the latest run, per home store and chain-wide ("*"): members whose first suggested
# category is each category, with their lifts summed (a scope's mean is its sums' ratio).
analytics_suggestions = sa.Table(
    "analytics_suggestions",
    metadata,
    sa.Column("store_id", sa.String(32), primary_key=True),
    sa.Column("category", sa.String(64), primary_key=True),
    sa.Column("computed_on", sa.Date, nullable=False),
    sa.Column("members", sa.BigInteger, nullable=False),
    sa.Column("lift_sum", sa.Float, nullable=False),
)

# As of the latest run, per home store and chain-wide: incentives offered and answered.
analytics_incentives = sa.Table(
    "analytics_incentives",
    metadata,
    sa.Column("store_id", sa.String(32), primary_key=True),
    sa.Column("incentive", sa.String(10), primary_key=True),
    sa.Column("computed_on", sa.Date, nullable=False),
    sa.Column("members", sa.BigInteger, nullable=False),
    sa.Column("offers", sa.BigInteger, nullable=False),
    sa.Column("responses", sa.BigInteger, nullable=False),
)

# As of the latest run: each home store's (and the chain's) members with the highest CLV
# (else value), best first; a scope's top members are the best of its stores' lists.
analytics_top_members = sa.Table(
    "analytics_top_members",
    metadata,
    sa.Column("store_id", sa.String(32), primary_key=True),
    sa.Column("rank", sa.SmallInteger, primary_key=True),
    sa.Column("computed_on", sa.Date, nullable=False),
    sa.Column("member_id", sa.String(32), nullable=False),
)

# Orders from other channels (website, Instagram, WhatsApp), imported by HQ through the API
# or a CSV (cloud/imports/): each is a row of ``sales`` (no event, no terminal, no points)
# so the analytics see it like a terminal's sale; this row keeps the channel's own order id
# so an order is stored once however often it is imported, and a changed resend is seen.
channel_orders = sa.Table(
    "channel_orders",
    metadata,
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("sale_id", sa.String(32), sa.ForeignKey("sales.id"), nullable=False, unique=True),
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), nullable=False),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id"), nullable=False),
    sa.Column("amount_rial", sa.BigInteger, nullable=False),
    sa.Column("ordered_at", Time, nullable=False),
    sa.Column("lines_digest", sa.String(64), nullable=False),  # SHA-256 of the lines as stored
    sa.Column("source", sa.String(10), nullable=False),  # api | file
    sa.Column("imported_by", sa.String(80), nullable=False),
    sa.Column("imported_at", Time, nullable=False),
)

# One-time codes texted to a mobile at member enrolment (cloud/mobile_codes.py, 0022): only a
# keyed HMAC of the code, its expiry and the tries spent; ``member_id`` is set when the
# enrolment that used the code arrives, so a verified mobile is the cloud's own record.
# A code never verified loses both HMACs after a day (0025) and stays as the record of a
# text sent (HQ's SMS log counts it).
FORGET_WHERE = "mobile_hmac IS NOT NULL AND verified_at IS NULL"
mobile_codes = sa.Table(
    "mobile_codes",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("terminal_id", sa.String(32), sa.ForeignKey("terminals.id"), nullable=False),
    sa.Column("mobile_hmac", sa.LargeBinary(32)),
    sa.Column("code_hmac", sa.LargeBinary(32)),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("verified_at", Time),
    sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id"), unique=True),
    sa.Column("provider", sa.String(20)),
    sa.Column("provider_id", sa.String(64)),
    sa.Index("mobile_codes_mobile", "mobile_hmac", "created_at"),
    sa.Index("mobile_codes_terminal", "terminal_id", "created_at"),
    # The codes whose HMACs are still to be dropped at a day: a few, however long the table.
    sa.Index(
        "mobile_codes_to_forget",
        "created_at",
        sqlite_where=sa.text(FORGET_WHERE),
        postgresql_where=sa.text(FORGET_WHERE),
    ),
)

# One row per mobile asking for codes (0025), taken by each request before it counts the
# mobile's codes, so two terminals asking at once for one mobile count one after the other.
mobile_code_locks = sa.Table(
    "mobile_code_locks",
    metadata,
    sa.Column("mobile_hmac", sa.LargeBinary(32), primary_key=True),
    sa.Column("taken_at", Time, nullable=False),
)
