"""Stand-in: transformers' generation test mixin (see ../README.md)."""


class GenerationTesterMixin:
    """No generate tests here: SLIP's generate needs sensor inputs; tests/test_modeling_slip.py tests it."""
