"""Imports into the cloud: orders from other channels and an existing club's member list."""

from cloud.imports.members import import_members
from cloud.imports.orders import CHANNELS, import_orders
from cloud.imports.rows import BadFile, Report, read_rows

__all__ = ["CHANNELS", "BadFile", "Report", "import_members", "import_orders", "read_rows"]
