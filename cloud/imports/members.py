"""An existing club's member list (CSV or Excel), stored like members enrolled at a till.

Mobile, name and birthday are sealed with the PII key (the member id is the associated
data) and the mobile is found by its keyed HMAC, as ``cloud/ingest.py`` stores an
enrolment; gender, province, city and birth year go through ``common.demographics``. A
mobile already in the club is "already there" and left as it is, so a list imported twice
adds nobody twice. Each new member gets a fresh member version, so the terminals of the
home store pull them at their next sync. An opening points balance becomes a grant
(``cloud/grants.py``): the home store's terminal books it in its own ledger.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cloud.grants import MAX_GRANT, create_point_grants
from cloud.imports.orders import find_store, store_index
from cloud.imports.rows import Report, Row, chunks, write_chunk
from cloud.imports.values import BadValue, cell_text, moment, short_text
from cloud.imports.values import mobile as parse_mobile
from cloud.storage import utcnow
from cloud.tables import members
from cloud.versions import bump_members
from common.cards import new_card_code
from common.demographics import (
    Demographics,
    InvalidDemographic,
    check_gender,
    check_place,
    split_birth_date,
)
from common.persian import birthday_lookup, group_thousands, is_plain_number, to_ascii_digits
from common.persian import to_persian_digits as fa_digits
from common.pii import PiiVault
from common.protocol import new_id
from common.referral import referral_code

MAX_NAME = 80  # as the till's enrolment
COLUMNS: dict[str, tuple[str, ...]] = {
    "mobile": ("موبایل", "شماره موبایل", "تلفن همراه", "mobile", "phone"),
    "name": ("نام", "نام و نام خانوادگی", "name", "full name"),
    "birthday": ("تاریخ تولد", "تولد", "birthday", "birth date"),
    "gender": ("جنسیت", "gender", "sex"),
    "province": ("استان", "province"),
    "city": ("شهر", "city"),
    "joined": ("تاریخ عضویت", "عضویت", "joined", "joined at", "member since"),
    "points": ("امتیاز", "مانده امتیاز", "points", "balance"),
    "consent": ("رضایت پیامک", "رضایت", "consent", "marketing consent", "sms consent"),
    "store": ("فروشگاه", "شعبه", "store"),
}
REQUIRED = {"mobile", "name"}
GENDER_WORDS = {
    "f": "f",
    "m": "m",
    "زن": "f",
    "خانم": "f",
    "female": "f",
    "مرد": "m",
    "آقا": "m",
    "male": "m",
}
YES = {"1", "yes", "y", "true", "بله", "آری", "دارد", "بلی"}
NO = {"", "0", "no", "n", "false", "خیر", "نه", "ندارد"}


@dataclass(frozen=True)
class NewMember:
    """One checked row of the list."""

    line: int
    mobile: str
    name: str
    birthday: str | None  # Jalali "MM-DD"
    about: Demographics
    joined: dt.datetime
    points: int
    consent: bool
    store_id: str


def parse_member(row: Row, store_ids: Mapping[str, str], home: str, now: dt.datetime) -> NewMember:
    """Check one row of a member list; raise BadValue on the first fault."""
    cells = row.cells
    year, birthday = None, None
    try:
        if cell_text(cells.get("birthday")):
            year, birthday = _birth_date(_date_text(cells.get("birthday")))
        said = cell_text(cells.get("gender")).lower()
        gender = check_gender(GENDER_WORDS.get(said, said))
        province, city = check_place(
            cell_text(cells.get("province")) or None, cell_text(cells.get("city")) or None
        )
    except InvalidDemographic as exc:
        raise BadValue(f"bad_{exc.field}", str(exc), exc.fa) from exc
    joined = cells.get("joined")
    return NewMember(
        row.line,
        parse_mobile(cells.get("mobile")),
        short_text(cells.get("name"), MAX_NAME, "bad_name", "نام"),
        birthday,
        Demographics(gender, province, city, year),
        moment(joined, now) if cell_text(joined) else now,
        _points(cells.get("points")),
        _consent(cells.get("consent")),
        find_store(store_ids, cells.get("store")) or home,
    )


# A list has some tens of thousands of distinct birth dates; each costs jdatetime's checks.
_birth_date = functools.lru_cache(maxsize=65_536)(split_birth_date)


def _date_text(value: Any) -> str:
    """A birthday typed as text, or a spreadsheet date taken as Jalali digits (y-m-d)."""
    if isinstance(value, dt.date):
        raise BadValue(
            "bad_birthday",
            "birthday is a spreadsheet date; write it as Jalali text 1370/05/12",
            "تاریخ تولد را شمسی و به شکل متن بنویسید، مثل ۱۳۷۰/۰۵/۱۲",
        )
    return cell_text(value)


def _points(value: Any) -> int:
    text = to_ascii_digits(cell_text(value)).replace(",", "").replace("٬", "")
    if not text:
        return 0
    most = MAX_GRANT["points"]
    if not is_plain_number(text) or int(text) > most:
        raise BadValue(
            "bad_points",
            f"opening points must be a whole number 0..{most}",
            f"امتیاز باید عددی بین ۰ و {group_thousands(most)} باشد",
        )
    return int(text)


def _consent(value: Any) -> bool:
    text = cell_text(value).lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise BadValue(
        "bad_consent",
        "consent must be yes/no (1/0, بله/خیر)",
        "رضایت پیامک را «بله» یا «خیر» بنویسید",
    )


def import_members(
    engine: sa.Engine,
    vault: PiiVault,
    rows: Iterable[Row],
    store: str,
    by: str,
    now: dt.datetime | None = None,
) -> Report:
    """Add the list's new members (home store ``store``); report every other row."""
    report, now = Report("members"), now or utcnow()
    with engine.connect() as conn:
        store_ids = store_index(conn)
    home = find_store(store_ids, store)
    if home is None:
        raise ValueError("a home store is needed")
    seen: dict[str, int] = {}  # mobile -> the line that first had it

    def write(conn: sa.Connection, people: Sequence[NewMember], pending: Report) -> None:
        _write(conn, vault, people, f"import:{by}"[:80], pending, now)

    for chunk in chunks(rows):
        parsed: list[NewMember] = []
        for row in chunk:
            report.read += 1
            try:
                person = parse_member(row, store_ids, home, now)
                if person.mobile in seen:
                    raise _repeated(seen[person.mobile])
            except BadValue as fault:
                report.refuse(row.line, fault)
                continue
            seen[person.mobile] = row.line
            parsed.append(person)
        write_chunk(engine, parsed, write, report, lambda person: person.line)
    report.problems.sort(key=lambda p: p.line)
    return report


def _repeated(first: int) -> BadValue:
    return BadValue(
        "repeated",
        f"the same mobile is on line {first}",
        f"این موبایل در سطر {fa_digits(str(first))} هم آمده است",
    )


def _write(
    conn: sa.Connection,
    vault: PiiVault,
    people: Sequence[NewMember],
    by: str,
    report: Report,
    now: dt.datetime,
) -> None:
    hashes = {vault.lookup_hash(p.mobile): p for p in people}
    there = set(
        conn.execute(
            sa.select(members.c.mobile_hmac).where(members.c.mobile_hmac.in_(list(hashes)))
        ).scalars()
    )
    fresh = [(digest, p) for digest, p in hashes.items() if digest not in there]
    report.already_there += len(people) - len(fresh)
    cards = _card_codes(conn, len(fresh))
    rows = [
        _member_row(vault, digest, p, card, now)
        for (digest, p), card in zip(fresh, cards, strict=True)
    ]
    if not rows:
        return
    conn.execute(sa.insert(members), rows)
    opening = {row["id"]: p.points for row, (_, p) in zip(rows, fresh, strict=True) if p.points}
    create_point_grants(conn, opening, "opening_balance", by)
    bump_members(conn, [row["id"] for row in rows])
    report.added += len(rows)


def _card_codes(conn: sa.Connection, count: int) -> list[str]:
    """Return ``count`` fresh card numbers no member has (random ones can clash)."""
    codes: set[str] = set()
    while len(codes) < count:
        wanted = {new_card_code() for _ in range(count - len(codes))}
        taken = set(
            conn.execute(
                sa.select(members.c.card_code).where(members.c.card_code.in_(list(wanted)))
            ).scalars()
        )
        codes |= wanted - taken
    return sorted(codes)[:count]


def _member_row(
    vault: PiiVault, digest: bytes, p: NewMember, card: str, now: dt.datetime
) -> dict[str, Any]:
    member_id = new_id()
    return {
        "id": member_id,
        "card_code": card,
        "mobile_hmac": digest,
        "mobile_enc": vault.encrypt(member_id, p.mobile),
        "name_enc": vault.encrypt(member_id, p.name),
        "home_store_id": p.store_id,
        "tier": "normal",
        "marketing_consent": p.consent,
        "enrolled_at": p.joined,
        "imported_at": now,  # not an enrolment: no welcome scenario
        "birthday_enc": vault.encrypt(member_id, p.birthday) if p.birthday else None,
        "birthday_hmac": birthday_lookup(vault, p.birthday) if p.birthday else None,
        "referral_code": referral_code(member_id),
        "referred_by": None,
        **p.about.as_payload(),
    }
