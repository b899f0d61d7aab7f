"""Typed custom-property values, as the domain sees them (the wire shape is the API's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PropertyType = Literal["string", "int", "double", "bool", "struct", "proto"]


@dataclass(frozen=True, slots=True)
class PropertyValue:
    """One custom property: its type and value, and for proto values the message type.

    `struct` and `proto` values are kept as the base64 text the client sent, so they
    round-trip byte for byte.
    """

    type: PropertyType
    value: str | int | float | bool
    proto_type: str | None = None


CustomProperties = dict[str, PropertyValue]
