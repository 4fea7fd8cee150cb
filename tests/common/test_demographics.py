"""Iran's provinces and cities, gender and birth year: one list and one check for both sides."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.demographics import (
    InvalidDemographic,
    check,
    current_jalali_year,
    load_places,
    provinces,
    split_birth_date,
)


def test_the_list_has_31_provinces_each_with_its_capital_first() -> None:
    places = provinces()
    assert len(places) == 31
    assert places["تهران"][0] == "تهران"
    assert places["خراسان رضوی"][0] == "مشهد"
    assert places["فارس"][0] == "شیراز"
    assert all(len(cities) >= 4 for cities in places.values())
    for name, cities in places.items():
        assert "ي" not in name + "".join(cities) and "ك" not in name + "".join(cities)


def test_a_place_is_written_as_the_list_writes_it() -> None:
    """GIVEN a province typed with Arabic kaf and yeh THEN it matches the Persian spelling."""
    about = check(province="كرمانشاه", city="كرمانشاه")
    assert (about.province, about.city) == ("کرمانشاه", "کرمانشاه")
    assert check().as_payload() == {
        "gender": None,
        "province": None,
        "city": None,
        "birth_year": None,
    }
    assert check(province="گیلان").city is None  # a province alone is fine


@pytest.mark.parametrize(
    ("values", "field", "fa"),
    [
        ({"gender": "x"}, "gender", "جنسیت را درست انتخاب کنید"),
        ({"province": "آتلانتیس"}, "province", "استان در فهرست نیست"),
        ({"province": "تهران", "city": "شیراز"}, "city", "این شهر در فهرست شهرهای استان نیست"),
        ({"city": "شیراز"}, "province", "اول استان را انتخاب کنید"),
        ({"birth_year": 1299}, "birth_year", "سال تولد باید سال شمسی باشد، مثل ۱۳۷۰"),
        ({"birth_year": "۱۳۷۰a"}, "birth_year", "سال تولد را با رقم وارد کنید"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    values: dict[str, object], field: str, fa: str
) -> None:
    with pytest.raises(InvalidDemographic) as caught:
        check(**values)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert caught.value.fa == fa


def test_birth_year_runs_to_this_jalali_year() -> None:
    this_year = current_jalali_year()
    assert check(birth_year=this_year).birth_year == this_year
    assert check(birth_year="۱۳۶۵").birth_year == 1365
    with pytest.raises(InvalidDemographic):
        check(birth_year=this_year + 1)


def test_full_jalali_birth_date_splits_into_year_and_month_day() -> None:
    assert split_birth_date("۱۳۶۵/۰۷/۱۵") == (1365, "07-15")
    assert split_birth_date("1365-7-5") == (1365, "07-05")
    assert split_birth_date("۰۷-۱۵") == (None, "07-15")
    assert split_birth_date("1403/12/30") == (1403, "12-30")  # 1403 is a leap year
    for bad in ("1402/12/30", "1370/13/01", "15", "1370/07/15/1", "abc"):
        with pytest.raises(InvalidDemographic) as caught:
            split_birth_date(bad)
        assert caught.value.field in {"birthday", "birth_year"}


def test_a_broken_places_file_is_refused_on_load(tmp_path: Path) -> None:
    """GIVEN a places file with a repeated province, or too few THEN loading it fails."""
    twice = tmp_path / "twice.toml"
    twice.write_text('[[province]]\nname = "قم"\ncities = ["قم"]\n' * 2, encoding="utf-8")
    with pytest.raises(ValueError, match="listed twice"):
        load_places(twice)
    short = tmp_path / "short.toml"
    short.write_text('[[province]]\nname = "قم"\ncities = ["قم"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="1 provinces, expected 31"):
        load_places(short)
    arabic = tmp_path / "arabic.toml"
    arabic.write_text('[[province]]\nname = "قم"\ncities = ["كهک"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="normal form"):
        load_places(arabic)


@pytest.mark.parametrize("text", ["¹³⁷⁰-01-02", "²-01", "13700-01-02"])
def test_odd_digits_in_a_birth_date_are_refused_in_persian(text: str) -> None:
    """Superscript digits pass str.isdigit but int() fails on them (a 500 on the till)."""
    with pytest.raises(InvalidDemographic) as refused:
        split_birth_date(text)
    assert refused.value.fa
