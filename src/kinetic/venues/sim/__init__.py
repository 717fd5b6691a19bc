"""SimExchange: spot and USD-M futures matching on candles, behind the venue protocols."""

from kinetic.venues.sim.futures import SimFuturesExchange
from kinetic.venues.sim.instruments import default_instruments
from kinetic.venues.sim.margin import SimPosition, liquidation_price
from kinetic.venues.sim.spot import SimSpotExchange

__all__ = [
    "SimFuturesExchange",
    "SimPosition",
    "SimSpotExchange",
    "default_instruments",
    "liquidation_price",
]
