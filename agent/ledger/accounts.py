"""Names of ledger accounts. Every amount moves between two or more of these."""

from __future__ import annotations

POINTS_ISSUED = "system:points_issued"
POINTS_REDEEMED = "system:points_redeemed"
POINTS_EXPIRED = "system:points_expired"
CREDIT_FLOAT = "system:credit_float"  # credit (Rials) given to members and not yet spent
CREDIT_REDEEMED = "system:credit_redeemed"
OVERDRAFT = "system:overdraft_receivable"
SYSTEM_ACCOUNTS = (
    POINTS_ISSUED,
    POINTS_REDEEMED,
    POINTS_EXPIRED,
    CREDIT_FLOAT,
    CREDIT_REDEEMED,
    OVERDRAFT,
)


def member_points(member_id: str) -> str:
    """Return the points account of a member."""
    return f"member:{member_id}:points"


def member_drawn(member_id: str) -> str:
    """Return the account of points a member held at other stores and redeemed here.

    It only ever goes down: the cloud adds these movements to the member's points held
    elsewhere, so the chain-wide balance is every store's points plus every store's drawn.
    """
    return f"member:{member_id}:drawn"


def member_credit(member_id: str) -> str:
    """Return the Rial credit (اعتبار) account of a member."""
    return f"member:{member_id}:credit"
