"""The built-in scenario library (BRIEF §2), each switchable per brand.

Texts use placeholders the engine fills: {نام} the member's first name, {امتیاز} the points
given, {کد} a coupon's code. Marketing texts get «لغو ۱۱» appended when sent.
"""

from __future__ import annotations

from typing import Any

LIBRARY: dict[str, dict[str, Any]] = {
    "birthday": {
        "name_fa": "تبریک تولد با هدیه",
        "trigger": {"type": "birthday"},
        "actions": [
            {"type": "points", "amount": 200, "note": "هدیه تولد"},
            {
                "type": "sms",
                "variants": [
                    "{نام} عزیز، تولدتان مبارک! {امتیاز} امتیاز هدیه به حسابتان نشست.",
                    "{نام} جان، زادروزتان خجسته! {امتیاز} امتیاز هدیه منتظر شماست.",
                ],
            },
        ],
        "guardrails": {"period": "year", "sms_per_week": 2},
        "control_pct": 10,
    },
    "win-back": {
        "name_fa": "بازگرداندن مشتری غایب",
        "trigger": {"type": "inactive", "days": 60},
        "actions": [
            {"type": "coupon", "value_rial": 500_000, "days": 14},
            {
                "type": "sms",
                "variants": [
                    "{نام} عزیز، دلمان برایتان تنگ شده."
                    " با کد {کد} تا دو هفته ۵۰ هزار تومان تخفیف دارید.",
                ],
            },
        ],
        "guardrails": {"period": "quarter", "budget_rial": 500_000_000, "sms_per_week": 1},
        "control_pct": 20,
    },
    "apology": {
        "name_fa": "پوزش پس از نظر ناخشنود",
        "trigger": {"type": "feedback", "max_nps": 6},
        "actions": [
            {"type": "coupon", "value_rial": 300_000, "days": 30},
            {
                "type": "sms",
                "variants": [
                    "{نام} عزیز، از اینکه راضی نبودید متأسفیم."
                    " با کد {کد} خرید بعدی را جبران می‌کنیم.",
                ],
            },
            {
                "type": "owner_note",
                "text": "مشتری از خرید در فروشگاه شما ناخشنود بود (امتیاز ۶ یا کمتر از ۱۰)"
                " و کوپن پوزش برایش فرستاده شد. در مراجعهٔ بعدی از او دلجویی کنید.",
            },
        ],
        "guardrails": {"period": "month", "sms_per_week": 2},
        "control_pct": 0,
    },
    "first-order-anniversary": {
        "name_fa": "سالگرد نخستین خرید",
        "trigger": {"type": "anniversary"},
        "actions": [
            {"type": "points", "amount": 150, "note": "سالگرد همراهی"},
            {
                "type": "sms",
                "variants": [
                    "{نام} عزیز، یک سال پیش نخستین خریدتان را از ما کردید."
                    " {امتیاز} امتیاز هدیه شما.",
                ],
            },
        ],
        "guardrails": {"period": "year", "sms_per_week": 2},
        "control_pct": 10,
    },
    "yalda": {
        "name_fa": "شب یلدا",
        "trigger": {"type": "occasion", "occasion": "yalda"},
        # By age: the younger members, who shop for Yalda gatherings; edit the groups.
        "conditions": {"age_groups": ["18_24", "25_34", "35_44"]},
        "actions": [
            {"type": "coupon", "value_rial": 200_000, "days": 7},
            {"type": "sms", "variants": ["{نام} عزیز، یلدایتان بلند و شاد. کد هدیه شما: {کد}"]},
        ],
        "guardrails": {"period": "year", "budget_rial": 300_000_000, "sms_per_week": 2},
        "control_pct": 10,
    },
    "nowruz": {
        "name_fa": "نوروز",
        "trigger": {"type": "occasion", "occasion": "nowruz"},
        # By province: where the chain has stores; edit the list (names as in
        # common/iran_places.toml). A member who gave no province is left out.
        "conditions": {"provinces": ["تهران", "البرز", "اصفهان", "فارس", "خراسان رضوی"]},
        "actions": [
            {"type": "points", "amount": 300, "note": "عیدی نوروز"},
            {"type": "sms", "variants": ["{نام} عزیز، نوروزتان پیروز! {امتیاز} امتیاز عیدی شما."]},
        ],
        "guardrails": {"period": "year", "sms_per_week": 2},
        "control_pct": 10,
    },
    "vip-thanks": {
        "name_fa": "سپاس از اعضای ویژه",
        "trigger": {"type": "tier", "tiers": ["vip"]},
        "actions": [
            {
                "type": "gift",
                "amount": 500,
                "note": "با سپاس از همراهی شما؛ هدیه‌ای در فروشگاه منتظر شماست",
            },
            {
                "type": "sms",
                "variants": ["{نام} عزیز، سپاس از همراهی‌تان. در خرید بعدی هدیه‌ای منتظر شماست."],
            },
        ],
        "guardrails": {"period": "quarter", "sms_per_week": 1},
        "control_pct": 10,
    },
    "rising-rate": {
        "name_fa": "پاداش خرید پرتکرارتر",
        "trigger": {"type": "rising_rate", "recent": 2, "min_purchases": 4, "ratio": 0.5},
        "actions": [
            {"type": "credit", "amount": 200_000},
            {
                "type": "sms",
                "variants": [
                    "{نام} عزیز، این روزها بیشتر به ما سر می‌زنید؛ ۲۰ هزار تومان اعتبار"
                    " خرید هدیهٔ شماست.",
                ],
            },
        ],
        "guardrails": {"period": "quarter", "budget_rial": 200_000_000, "sms_per_week": 2},
        "control_pct": 10,
    },
    "survey-thanks": {
        "name_fa": "سپاس از شرکت در نظرسنجی",
        "trigger": {"type": "feedback", "max_nps": 10},
        "actions": [
            {"type": "points", "amount": 50, "note": "سپاس از نظر شما"},
            {
                "type": "sms",
                "variants": ["{نام} عزیز، از نظرتان سپاسگزاریم. {امتیاز} امتیاز هدیهٔ شما."],
            },
        ],
        "guardrails": {"period": "month", "sms_per_week": 2},
        "control_pct": 10,
    },
    "referral-thanks": {
        "name_fa": "سپاس از معرفی دوستان",
        "trigger": {"type": "referral"},
        "actions": [
            {"type": "points", "amount": 200, "note": "سپاس از معرفی دوستتان"},
            {
                "type": "sms",
                "variants": [
                    "{نام} عزیز، دوستی که معرفی کردید نخستین خریدش را کرد."
                    " {امتیاز} امتیاز هدیهٔ شما.",
                ],
            },
        ],
        "guardrails": {"period": "event", "budget_rial": 100_000_000, "sms_per_week": 2},
        "control_pct": 0,
    },
    "surprise-gift": {
        "name_fa": "هدیهٔ غافلگیری پس از خرید بزرگ",
        "trigger": {"type": "purchase", "min_amount_rial": 50_000_000},
        "actions": [
            {
                "type": "gift",
                "amount": 300,
                "note": "هدیه‌ای کوچک برای همراهی بزرگ شما",
            },
        ],
        "guardrails": {"period": "quarter", "budget_rial": 100_000_000},
        "control_pct": 10,
    },
}

# Solar occasions fall on fixed Jalali dates; lunar ones (Fitr, Ghadir …) move a little
# every year: HQ adds them with `vafa-cloud scenarios occasions --file`.
OCCASIONS: list[dict[str, str]] = [
    {"jalali_date": "1405-01-01", "key": "nowruz", "name_fa": "نوروز ۱۴۰۵"},
    {"jalali_date": "1406-01-01", "key": "nowruz", "name_fa": "نوروز ۱۴۰۶"},
    {"jalali_date": "1404-09-30", "key": "yalda", "name_fa": "شب یلدا ۱۴۰۴"},
    {"jalali_date": "1405-09-30", "key": "yalda", "name_fa": "شب یلدا ۱۴۰۵"},
]
