from datetime import UTC, datetime, timedelta, timezone

import pytest

from menderlite.timeutil import parse_rfc3339, rfc3339


def test_rfc3339_is_utc_with_z() -> None:
    moment = datetime(2020, 9, 11, 12, 11, 12, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment) == "2020-09-11T10:11:12.123Z"
    assert rfc3339(None) is None


def test_parse_round_trip_and_rejects_naive() -> None:
    assert parse_rfc3339("2020-09-11T10:11:12.123Z") == datetime(2020, 9, 11, 10, 11, 12, 123000, tzinfo=UTC)
    assert parse_rfc3339("2020-09-11T12:11:12+02:00").hour == 10
    with pytest.raises(ValueError):
        parse_rfc3339("2020-09-11T10:11:12")
