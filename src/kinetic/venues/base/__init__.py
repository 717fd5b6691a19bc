"""Venue protocols, the error taxonomy and instrument filters shared by all venues."""

from kinetic.venues.base.errors import (
    AuthError,
    DuplicateOrder,
    InsufficientFunds,
    InvalidTimestamp,
    IPBanned,
    OrderNotFound,
    OrderRejected,
    OrderStateUnknown,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    StaleDataError,
    TransientError,
    UnknownSymbol,
    VenueError,
    VenueHalted,
)
from kinetic.venues.base.filters import (
    check_order,
    floor_to_step,
    round_price,
    round_quantity,
)
from kinetic.venues.base.protocols import FuturesVenue, SpotVenue

__all__ = [
    "AuthError",
    "DuplicateOrder",
    "FuturesVenue",
    "IPBanned",
    "InsufficientFunds",
    "InvalidTimestamp",
    "OrderNotFound",
    "OrderRejected",
    "OrderStateUnknown",
    "OutcomeUnknown",
    "PermanentError",
    "RateLimited",
    "SpotVenue",
    "StaleDataError",
    "TransientError",
    "UnknownSymbol",
    "VenueError",
    "VenueHalted",
    "check_order",
    "floor_to_step",
    "round_price",
    "round_quantity",
]
