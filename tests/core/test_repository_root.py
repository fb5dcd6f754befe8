"""The repository root (the folder of dvc.yaml), found from any folder inside it: a notebook's kernel works from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sublim.core.runtime import repository_root, work_from_repository_root


def test_the_root_is_found_from_a_folder_below_it_and_from_itself(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    below = tmp_path / "results" / "mnist"
    below.mkdir(parents=True)
    assert repository_root(below) == repository_root(tmp_path) == tmp_path.resolve()


def test_the_kernel_moves_to_the_root_and_stays_there(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "results").mkdir()
    monkeypatch.chdir(tmp_path / "results")
    work_from_repository_root()
    assert Path.cwd() == tmp_path.resolve()
    work_from_repository_root()  # under papermill the kernel starts at the root: nothing changes
    assert Path.cwd() == tmp_path.resolve()


def test_outside_a_repository_it_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no dvc\.yaml in .* or above"):
        repository_root(tmp_path)
