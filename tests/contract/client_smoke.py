"""The client a tender platform would generate from the document
(openapi-python-client), used as it would use it: a search page, a status
answer, the batch, the feed and problems, every level and status a typed enum.
Run by `run` against a seeded register: `client_smoke.py BASE_URL`."""

import datetime
import sys

from pso_register_client import Client
from pso_register_client.api.feed import events
from pso_register_client.api.search import search_companies
from pso_register_client.api.status import company_status, status_batch
from pso_register_client.models import (
    BatchRequest,
    CompanyPage,
    CompanyStatus,
    EventKind,
    EventPage,
    Level,
    Problem,
    SearchStatus,
    StatusList,
    StatusView,
)
from pso_register_client.types import Unset


def check(condition, what):
    if not condition:
        sys.exit(f"client smoke test: {what}")


def main(base):
    client = Client(base_url=f"{base}/v1", raise_on_unexpected_status=True)

    page = search_companies.sync(client=client, status=SearchStatus.ANY, level_min=Level.ASPIRANT, limit=5)
    check(isinstance(page, CompanyPage), f"a search page, got {page!r}")
    check(len(page.items) == 5 and isinstance(page.next_cursor, str), "five hits and a next cursor")
    hit = page.items[0]
    check(isinstance(hit.standing.status, CompanyStatus), "a hit's status is an enum")
    following = search_companies.sync(client=client, status=SearchStatus.ANY, level_min=Level.ASPIRANT, limit=5, cursor=page.next_cursor)
    check(isinstance(following, CompanyPage) and following.items[0].kvk_number != hit.kvk_number, "the next page")

    certified = next((h for h in page.items if h.standing.certified), None)
    check(certified is not None, "a certified company among the hits")
    answer = company_status.sync(certified.kvk_number, client=client, level_min=Level.ASPIRANT)
    check(isinstance(answer, StatusView), f"a status answer, got {answer!r}")
    check(answer.certified and answer.status == CompanyStatus.ACTIVE, "certified and active")
    check(isinstance(answer.level, Level), "the level is an enum")
    term = company_status.sync(
        "99999999", client=client, on=datetime.date(2026, 6, 1), until=datetime.date(2027, 5, 31)
    )
    check(isinstance(term, StatusView) and term.status == CompanyStatus.NOT_CERTIFIED, "unknown is not_certified")

    batch = status_batch.sync(client=client, body=BatchRequest(kvk_numbers=[certified.kvk_number, "99999999"]))
    check(isinstance(batch, StatusList) and [a.kvk_number for a in batch.items] == [certified.kvk_number, "99999999"], "the batch, in order")

    feed = events.sync(client=client, limit=3)
    check(isinstance(feed, EventPage) and all(isinstance(e.kind, EventKind) for e in feed.items), "the feed's kinds are enums")

    refused = company_status.sync("1234567", client=client)
    check(isinstance(refused, Problem), f"a problem, got {refused!r}")
    check(refused.type_ == "/problems/invalid-parameter" and refused.status == 400, "invalid-parameter, 400")
    check(not isinstance(refused.errors, Unset) and refused.errors[0].field == "kvk", "the problem names kvk")
    too_many = status_batch.sync(client=client, body=BatchRequest(kvk_numbers=["12345678"] * 1001))
    check(isinstance(too_many, Problem) and too_many.type_ == "/problems/validation-failed", "a refused batch")
    check(too_many.errors[0].field == "kvkNumbers", "the batch problem names kvkNumbers")
    print("contract: client smoke test passed (search page, status, batch, feed, problems; typed enums)")


if __name__ == "__main__":
    main(sys.argv[1])
