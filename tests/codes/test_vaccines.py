"""The vaccine and dose code table (BRImunobiologico, BRDose) and what each coverage counts."""

from __future__ import annotations

from rmds.codes.vaccines import CALENDAR, COVERAGE_DOSES, VACCINES, dose_code, vaccine


def test_dose_labels_map_to_brdose_codes() -> None:
    # BRDose v1.01: the first booster is 6 (8 is "Dose"), the single dose 9
    assert dose_code("1º Reforço") == "6"
    assert dose_code("Única") == dose_code("Dose única") == "9"
    assert dose_code("3ª Dose") == dose_code(3) == "3"
    assert dose_code("Dose") is None


def test_codes_ignore_leading_zeros() -> None:
    known = vaccine("09")
    assert known is not None and known.acronym == "HepB"
    assert vaccine("009") is vaccine("9")
    assert vaccine("17") is None          # Hib in BRImunobiologico: not in the calendar


def test_what_each_coverage_counts() -> None:
    # the products the SI-PNI method counts with the calendar's own dose
    assert set(COVERAGE_DOSES["penta_d3"]) == {("42", "3"), ("43", "3")}
    assert set(COVERAGE_DOSES["polio_d3"]) == {("22", "3"), ("28", "3"), ("43", "3")}
    assert set(COVERAGE_DOSES["pneumo_d2"]) == {("26", "2"), ("59", "2")}
    assert set(COVERAGE_DOSES["pneumo_reforco"]) == {("26", "6"), ("59", "6")}
    assert set(COVERAGE_DOSES["febre_amarela"]) == {("14", "1"), ("14", "9")}
    assert set(COVERAGE_DOSES["triplice_viral_d2"]) == {("24", "2"), ("56", "9")}
    # every code counted is declared
    for pairs in COVERAGE_DOSES.values():
        assert all(code in VACCINES for code, _ in pairs)
    assert all(d.dose_label for d in CALENDAR)
