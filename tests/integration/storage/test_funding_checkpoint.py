"""The funding sync's checkpoint in the database (``installation`` key ``funding_ms:<engine>``)."""

from __future__ import annotations

from decimal import Decimal

from kinetic.domain import FundingPayment
from kinetic.engines.funding_sync import Checkpoint, FundingCheckpoints
from kinetic.storage.recorder import DbRecorder
from kinetic.storage.repositories import Repositories


async def test_checkpoint_survives_a_new_recorder_per_engine(repos: Repositories) -> None:
    recorder = DbRecorder(repos)
    assert isinstance(recorder, FundingCheckpoints)
    assert await recorder.funding_checkpoint("futures") is None
    mark = Checkpoint(1000)
    mark.advance(FundingPayment("ETHUSDT", Decimal("-0.00000001"), 2000, "7"))
    mark.advance(FundingPayment("BTCUSDT", Decimal("1.5"), 2000, "8"))
    await recorder.save_funding_checkpoint("futures", mark.dump())
    again = await DbRecorder(repos).funding_checkpoint("futures")
    assert again is not None
    loaded = Checkpoint.load(again)
    assert (loaded.ms, loaded.ids, loaded.total) == (2000, ["7", "8"], Decimal("1.49999999"))
    assert await repos.installation.get("funding_ms:futures") == again
    assert await recorder.funding_checkpoint("spot") is None
