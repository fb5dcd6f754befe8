"""The base LLM asset: the GGUF in a pinned wheel (offline) or a hub model id, written as a transformers folder."""

from __future__ import annotations

from pathlib import Path

from sublim.assets.config import AssetsParams, LLMAsset
from sublim.assets.files import wheel_member
from sublim.core.io import write_json_atomic
from sublim.lm.models import convert_gguf, download_hub_model


def gguf_path(asset: LLMAsset) -> Path:
    return wheel_member(asset.wheel, asset.wheel_member, asset.sha256, "assets.llm.sha256")


def prepare_llm(section: AssetsParams, results_dir: Path) -> None:
    """Stage `assets_llm`: write the base model as a local transformers folder (safetensors)."""
    asset = section.llm
    if asset.source == "wheel":
        convert_gguf(gguf_path(asset), results_dir)
        origin = {
            "source": "wheel",
            "wheel": asset.wheel,
            "member": asset.wheel_member,
            "sha256": asset.sha256,
        }
    else:
        download_hub_model(asset.hub_id, asset.hub_revision, results_dir)
        origin = {"source": "hub", "hub_id": asset.hub_id, "revision": asset.hub_revision}
    write_json_atomic(results_dir / "asset.json", origin)
