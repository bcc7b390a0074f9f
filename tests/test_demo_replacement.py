"""The leak drill's replacement backup weighed against the papers it stands beside, from small constructed inputs."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from itembank.demo.evidence import ReplacementStrength, max_min, scarce_cells, target_information

PEERS = ("exam-r1-main-2", "exam-r1-backup-1")
REPLACEMENT = "exam-replacement-r2-backup-1"


def paper(name: str, discriminations: list[float], cells: list[tuple[str, str]]) -> pd.DataFrame:
    """Items at b = 0 without guessing: each carries a²/4 units of information at θ = 0."""
    return pd.DataFrame({"paper": name, "item_id": [f"{name}-{i}" for i in range(len(discriminations))],
                         "a": discriminations, "b": 0.0, "c": 0.0,
                         "type": [t for t, _ in cells], "module": [m for _, m in cells]})


CELLS = [("single_choice", "A")] * 4 + [("single_choice", "B")] * 4


def strength(replacement_a: list[float], **kwargs: object) -> ReplacementStrength:
    items = pd.concat([paper(PEERS[0], [2.0] * 8, CELLS), paper(PEERS[1], [2.0] * 7 + [1.9], CELLS),
                       paper(REPLACEMENT, replacement_a, CELLS)], ignore_index=True)
    return ReplacementStrength(replacement=REPLACEMENT, peers=PEERS, information=target_information(items, [0.0]),
                               **kwargs)  # type: ignore[arg-type]


def test_target_information_sums_item_information_per_paper() -> None:
    items = pd.concat([paper("p", [2.0, 1.0], CELLS[:2]), paper("q", [1.0], CELLS[:1])], ignore_index=True)
    information = target_information(items, [0.0, 1.0])
    assert list(information.index) == ["p", "q"]
    assert information.loc["p", 0.0] == pytest.approx(1.0 + 0.25)
    assert information.loc["q", 0.0] == pytest.approx(0.25)
    assert information.loc["p", 1.0] < information.loc["p", 0.0]  # items centred at 0 tell less at θ = 1


def test_max_min_is_the_weakest_point_relative_to_the_spec_weights() -> None:
    information = pd.DataFrame({-1.0: [10.0, 12.0], 0.0: [16.0, 12.0]}, index=["p", "q"])
    assert max_min(information).to_dict() == {"p": 10.0, "q": 12.0}
    assert max_min(information, [1.0, 2.0]).to_dict() == {"p": 8.0, "q": 6.0}


def test_a_replacement_within_five_percent_is_called_comparable() -> None:
    result = strength([2.0] * 7 + [1.8])  # 7.81 against the weakest peer's 7.9025
    assert result.weakest_peer == PEERS[1]
    assert result.weakest_peer_information == pytest.approx(7 + 0.9025)
    assert result.ratio == pytest.approx(7.81 / 7.9025)
    assert result.comparable
    sentence = result.sentence()
    assert sentence.startswith("The replacement backup replacement-r2-backup-1 is comparable")
    assert "7.81 units of test information against 7.90, r1-backup-1" in sentence and "(1 % less)" in sentence
    assert "Warning" not in sentence and "running short" not in sentence
    assert result.figure() == "max-min information 7.81 vs 7.90 for the weakest paper beside it (1 % less)"


def test_a_replacement_short_by_more_gets_a_warning_with_the_run_figures() -> None:
    scarce = pd.DataFrame({"type": ["single_choice"], "module": ["B"], "theta": [0.0], "available": [1],
                           "per_paper": [4.0], "deficit": [3.0]})
    result = strength([1.6] * 8, scarce=scarce, module_names={"A": "职业道德", "B": "基础知识"}, optimal=True)
    assert not result.comparable
    assert result.replacement_information == pytest.approx(5.12)
    sentence = result.sentence()
    assert sentence.startswith("Warning: the replacement backup replacement-r2-backup-1 carries 35 % less test "
                               "information at its weakest target point than the weakest paper it stands beside "
                               "(5.12 vs 7.90, r1-backup-1): the bank is running short of informative items in "
                               "single choice × B 基础知识 (at θ = 0: 1 unused item as")
    assert "against 4.0 per paper" in sentence and "solved to optimality" in sentence
    assert "35 % less" in result.figure()
    table = result.table()
    assert list(table["paper"]) == ["r1-main-2", "r1-backup-1", "replacement-r2-backup-1"]
    assert table["max-min"].iloc[-1] == pytest.approx(5.12)


def test_without_scarce_cells_or_optimality_the_warning_claims_neither() -> None:
    sentence = strength([1.6] * 8).sentence()
    assert "35 % less" in sentence and sentence.endswith("(5.12 vs 7.90, r1-backup-1).")
    assert "running short" not in sentence and "optimality" not in sentence
    figures = {"35", "5.12", "7.90", "1", "2"}  # 1 and 2 from the paper names (r1, r2)
    assert all(number in figures for number in re.findall(r"\d+(?:\.\d+)?", sentence))


def test_scarce_cells_are_those_with_fewer_informative_unused_items_than_a_paper_draws() -> None:
    peers = pd.concat([paper(PEERS[0], [2.0] * 8, CELLS), paper(PEERS[1], [1.0] * 8, CELLS)], ignore_index=True)
    available = pd.concat([paper("pool", [2.5] * 6, [("single_choice", "A")] * 6),  # plenty of strong A items
                           paper("pool-b", [2.0, 0.5, 0.5], [("single_choice", "B")] * 3),  # one strong B item
                           paper("pool-tf", [3.0] * 9, [("true_false", "B")] * 9)],  # a type the papers do not use
                          ignore_index=True)
    table = scarce_cells(peers, available, [0.0])
    assert table[["type", "module"]].values.tolist() == [["single_choice", "B"]]
    row = table.iloc[0]
    assert (row["available"], row["per_paper"], row["deficit"]) == (1, 4.0, 3.0)
    assert scarce_cells(peers, available.iloc[:0], []).empty


def test_binding_points_are_where_the_replacement_is_at_its_weakest() -> None:
    information = pd.DataFrame({-1.0: [19.2, 15.00], 0.0: [26.4, 18.2], 1.0: [19.2, 15.05]}, index=[PEERS[0], REPLACEMENT])
    result = ReplacementStrength(replacement=REPLACEMENT, peers=PEERS[:1], information=information)
    assert result.binding_theta() == [-1.0, 1.0]
    weighted = ReplacementStrength(replacement=REPLACEMENT, peers=PEERS[:1], information=information,
                                   weights=(1.0, 1.21, 1.0))
    assert weighted.binding_theta() == [-1.0, 0.0, 1.0]  # 18.2 / 1.21 = 15.04, within 1 % of 15.00
