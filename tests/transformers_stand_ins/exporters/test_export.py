"""Stand-in: transformers' export test mixin (see ../README.md)."""


class ExportTesterMixin:
    """No export tests here: tests/test_export_sensor_side.py exports SLIP's sensor side."""
