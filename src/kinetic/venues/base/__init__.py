"""Venue protocols, the error taxonomy and instrument filters shared by all venues."""

from kinetic.venues.base.errors import (
    AuthError,
    DuplicateOrder,
    InsufficientFunds,
    IPBanned,
    OrderNotFound,
    OrderRejected,
    OrderStateUnknown,
    PermanentError,
    RateLimited,
    StaleDataError,
    TransientError,
    UnknownSymbol,
    VenueError,
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
    "OrderNotFound",
    "OrderRejected",
    "OrderStateUnknown",
    "PermanentError",
    "RateLimited",
    "SpotVenue",
    "StaleDataError",
    "TransientError",
    "UnknownSymbol",
    "VenueError",
    "check_order",
    "floor_to_step",
    "round_price",
    "round_quantity",
]
