"""Members as the terminal knows them: enrolment and lookup by card code or mobile.

Mobile and name are stored only encrypted; a mobile is found by its keyed HMAC.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from agent.errors import InputError, UnknownMember
from agent.ledger import accounts
from common.cards import new_card_code
from common.demographics import (
    Demographics,
    InvalidDemographic,
    check_birth_year,
    check_gender,
    check_place,
)
from common.demographics import check as check_demographics
from common.mobile import looks_like_mobile, normalize_mobile
from common.persian import normalize_text, parse_birthday, to_ascii_digits
from common.pii import PiiVault
from common.protocol import new_id

log = logging.getLogger(__name__)
MAX_NAME = 80


@dataclass(frozen=True)
class Member:
    """A member as the cashier sees them."""

    id: str
    card_code: str
    mobile: str
    name: str
    tier: str
    marketing_consent: bool
    birthday: tuple[int, int] | None = None  # Jalali (month, day)
    gender: str | None = None  # "f" | "m"
    province: str | None = None
    city: str | None = None
    birth_year: int | None = None  # Jalali

    @property
    def demographics(self) -> Demographics:
        """Return gender, place and birth year as one value."""
        return Demographics(self.gender, self.province, self.city, self.birth_year)

    def birthday_text(self) -> str | None:
        """Return the birthday as Jalali MM-DD, or None."""
        return f"{self.birthday[0]:02d}-{self.birthday[1]:02d}" if self.birthday else None


def clean_name(raw: str) -> str:
    """Normalise a member's name, or raise InputError."""
    name = normalize_text(raw)
    if not name or len(name) > MAX_NAME:
        raise InputError(f"name must be 1–{MAX_NAME} characters", fa="نام را درست وارد کنید")
    return name


def enrol(
    conn: sqlite3.Connection,
    vault: PiiVault,
    mobile: str,
    name: str,
    consent: bool,
    now: str,
    member_id: str | None = None,
    card_code: str | None = None,
    birthday: str | None = None,
    demographics: Demographics | None = None,
) -> Member:
    """Insert a member inside the caller's transaction; refuse a mobile already enrolled."""
    e164 = normalize_mobile(mobile)
    clean = clean_name(name)
    try:
        born = parse_birthday(birthday) if birthday else None
    except ValueError as exc:
        raise InputError(str(exc), fa="تاریخ تولد را به شکل ماه-روز شمسی وارد کنید") from exc
    about = checked_demographics(demographics or Demographics())
    digest = vault.lookup_hash(e164)
    if conn.execute("SELECT 1 FROM members WHERE mobile_hmac = ?", (digest,)).fetchone():
        raise InputError("mobile already enrolled", fa="این شماره قبلاً عضو شده است")
    member = Member(
        member_id or new_id(),
        card_code or new_card_code(),
        e164,
        clean,
        "normal",
        consent,
        born,
        about.gender,
        about.province,
        about.city,
        about.birth_year,
    )
    birthday_text = member.birthday_text()
    conn.execute(
        "INSERT INTO members (id, card_code, mobile_hmac, mobile_enc, name_enc, tier,"
        " marketing_consent, created_at, birthday_enc, gender, province, city, birth_year)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            member.id,
            member.card_code,
            digest,
            vault.encrypt(member.id, e164),
            vault.encrypt(member.id, clean),
            member.tier,
            int(consent),
            now,
            vault.encrypt(member.id, birthday_text) if birthday_text else None,
            about.gender,
            about.province,
            about.city,
            about.birth_year,
        ),
    )
    conn.execute(
        "INSERT INTO accounts (id, kind, member_id)"
        " VALUES (?, 'member_points', ?), (?, 'member_credit', ?)",
        (
            accounts.member_points(member.id),
            member.id,
            accounts.member_credit(member.id),
            member.id,
        ),
    )
    return member


def checked_demographics(about: Demographics) -> Demographics:
    """Check gender, place and birth year against common's lists, or raise InputError."""
    try:
        return check_demographics(about.gender, about.province, about.city, about.birth_year)
    except InvalidDemographic as exc:
        raise InputError(str(exc), fa=exc.fa) from exc


def identify(conn: sqlite3.Connection, vault: PiiVault, raw: str) -> Member:
    """Find the member behind a scanned card code or a typed mobile, or raise UnknownMember."""
    text = to_ascii_digits(raw).strip()
    if looks_like_mobile(text):
        row = conn.execute(
            "SELECT * FROM members WHERE mobile_hmac = ?",
            (vault.lookup_hash(normalize_mobile(text)),),
        ).fetchone()
    else:
        row = conn.execute("SELECT * FROM members WHERE card_code = ?", (text,)).fetchone()
    if row is None:
        raise UnknownMember(f"no member for input of {len(text)} characters")
    return _from_row(vault, row)


def get(conn: sqlite3.Connection, vault: PiiVault, member_id: str) -> Member:
    """Return the member with this id, or raise UnknownMember."""
    row = conn.execute("SELECT * FROM members WHERE id = ?", (member_id,)).fetchone()
    if row is None:
        raise UnknownMember(f"no member {member_id}")
    return _from_row(vault, row)


def _from_row(vault: PiiVault, row: sqlite3.Row) -> Member:
    sealed = row["birthday_enc"]
    return Member(
        id=row["id"],
        card_code=row["card_code"],
        mobile=vault.decrypt(row["id"], row["mobile_enc"]),
        name=vault.decrypt(row["id"], row["name_enc"]),
        tier=row["tier"],
        marketing_consent=bool(row["marketing_consent"]),
        birthday=parse_birthday(vault.decrypt(row["id"], sealed)) if sealed else None,
        gender=row["gender"],
        province=row["province"],
        city=row["city"],
        birth_year=row["birth_year"],
    )


def apply_snapshot(
    conn: sqlite3.Connection, vault: PiiVault, snapshot: dict[str, Any], now: str
) -> None:
    """Insert or refresh a member from the cloud's snapshot, inside the caller's transaction."""
    member_id = snapshot["member_id"]
    about = _snapshot_demographics(snapshot)
    known = conn.execute("SELECT 1 FROM members WHERE id = ?", (member_id,)).fetchone()
    if known is None:
        enrol(
            conn,
            vault,
            snapshot["mobile"],
            snapshot["name"],
            bool(snapshot["marketing_consent"]),
            now,
            member_id=member_id,
            card_code=snapshot["card_code"],
            birthday=snapshot.get("birthday"),
            demographics=about,
        )
    if about is not None:  # a cloud that sends them is the authority on them
        conn.execute(
            "UPDATE members SET gender = ?, province = ?, city = ?, birth_year = ? WHERE id = ?",
            (about.gender, about.province, about.city, about.birth_year, member_id),
        )
    conn.execute(
        "UPDATE members SET tier = ?, marketing_consent = ?, points_elsewhere = ? WHERE id = ?",
        (
            snapshot["tier"],
            int(bool(snapshot["marketing_consent"])),
            int(snapshot["points_elsewhere"]),
            member_id,
        ),
    )
    _replace_coupons(conn, member_id, list(snapshot.get("coupons", [])))
    if "suggestions" in snapshot:  # a cloud that sends none leaves what was there
        conn.execute(
            "UPDATE members SET suggestions = ? WHERE id = ?",
            (
                json.dumps(_clean_suggestions(snapshot["suggestions"]), ensure_ascii=False),
                member_id,
            ),
        )


MAX_SUGGESTIONS = 2


def _clean_suggestions(raw: Any) -> list[str]:
    """Keep at most two short category names; anything else in the list is dropped."""
    if not isinstance(raw, list):
        return []
    kept = [s.strip() for s in raw if isinstance(s, str) and 0 < len(s.strip()) <= 64]
    return kept[:MAX_SUGGESTIONS]


def suggestions(conn: sqlite3.Connection, member_id: str) -> list[str]:
    """Return the categories to offer this member (best first), as of the last pull."""
    row = conn.execute("SELECT suggestions FROM members WHERE id = ?", (member_id,)).fetchone()
    if not row or not row[0]:
        return []
    try:
        return _clean_suggestions(json.loads(row[0]))
    except ValueError:
        return []


def _snapshot_demographics(snapshot: dict[str, Any]) -> Demographics | None:
    """Return the snapshot's demographics; None from a cloud that sends none.

    A value this terminal's lists do not know (a cloud with a newer places file) is left
    out rather than refusing the member: being recognised at the till matters more.
    """
    if not any(key in snapshot for key in ("gender", "province", "city", "birth_year")):
        return None
    kept: dict[str, Any] = {}
    for name, value in (
        ("gender", snapshot.get("gender")),
        ("place", (snapshot.get("province"), snapshot.get("city"))),
        ("place", (snapshot.get("province"), None)),
        ("birth_year", snapshot.get("birth_year")),
    ):
        if name in kept:
            continue
        try:
            kept[name] = _check_one(name, value)
        except (InvalidDemographic, TypeError, AttributeError):
            log.info("snapshot of %s: %s not applied", snapshot.get("member_id"), name)
    place = kept.get("place", (None, None))
    return Demographics(kept.get("gender"), place[0], place[1], kept.get("birth_year"))


def _check_one(name: str, value: Any) -> Any:
    if name == "gender":
        return check_gender(value)
    if name == "place":
        return check_place(*value)
    return check_birth_year(value)


def _replace_coupons(conn: sqlite3.Connection, member_id: str, offers: list[Any]) -> None:
    """Make the member's unused coupons those the cloud sent; keep the ones used here."""
    conn.execute("DELETE FROM coupons WHERE member_id = ? AND used_sale_id IS NULL", (member_id,))
    for offer in offers:
        conn.execute(
            "INSERT INTO coupons (code, member_id, value_rial, min_purchase_rial, expires_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (code) DO NOTHING",
            (
                str(offer["code"]),
                member_id,
                int(offer["value_rial"]),
                int(offer["min_purchase_rial"]),
                str(offer["expires_at"]),
            ),
        )


def points_elsewhere(conn: sqlite3.Connection, member_id: str) -> int:
    """Return the member's points at other stores, as of the last pull."""
    row = conn.execute("SELECT points_elsewhere FROM members WHERE id = ?", (member_id,)).fetchone()
    return int(row[0]) if row else 0
