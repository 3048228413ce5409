"""REST `/v1/sources`, `/v1/topics`, and the NDJSON export and import."""

from __future__ import annotations

import httpx
import orjson

from db.database import Database
from schema.sources import ImportReport, SourcePage, SourcePublic, SourceWritten, TopicPage
from tests.helpers import DATA_TABLES
from tests.rest_helpers import MERZ, REUTERS, STARMER, demo, document, quote, write


async def test_posting_a_document_answers_201_then_200_with_the_same_body(client: httpx.AsyncClient) -> None:
    doc = document("https://e.com/1", quote("Posted.", topics=["ukraine-crisis"]))
    first = await client.post("/v1/sources", json=doc)
    assert first.status_code == 201
    written = SourceWritten.model_validate_json(first.content)
    assert first.headers["location"] == f"/v1/sources/{written.source_id}"
    assert written.claims[0].created and written.source_created
    second = await client.post("/v1/sources", json=doc)
    assert second.status_code == 200
    again = SourceWritten.model_validate_json(second.content)
    assert again.source_id == written.source_id and not again.created
    assert [c.id for c in again.claims] == [c.id for c in written.claims]


async def test_an_unresolvable_reference_is_a_422_naming_the_field(client: httpx.AsyncClient) -> None:
    doc = document("https://e.com/1", quote("x.", {"id": 12345}))
    r = await client.post("/v1/sources", json=doc)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "body.claims[0].speakers[0].entity.id"
    unknown = await client.post("/v1/sources", json={**doc, "surprise": 1})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.surprise"


async def test_a_source_reads_with_publisher_and_claims_in_document_order(
    client: httpx.AsyncClient, db: Database
) -> None:
    result = await write(db, document("https://e.com/1", quote("First."), quote("Second.", STARMER)))
    r = await client.get(f"/v1/sources/{result.source_id}")
    source = SourcePublic.model_validate_json(r.content)
    assert source.publisher is not None and source.publisher.name == "TASS"
    assert [c.content for c in source.claims] == ["First.", "Second."]
    assert source.claim_count == 2
    assert (await client.get("/v1/sources/999")).status_code == 404


async def test_sources_list_newest_first_and_filter_by_publisher_and_date(
    client: httpx.AsyncClient, db: Database
) -> None:
    said = "2023-12-01"
    await write(db, document("https://e.com/old", quote("a.", said_at=said), published_at="2024-01-01T00:00:00Z"))
    await write(db, document("https://e.com/new", quote("b.", said_at=said), published_at="2025-01-01T00:00:00Z"))
    await write(
        db,
        document("https://r.com/1", quote("c.", said_at=said), publisher=REUTERS, published_at="2025-06-01T00:00:00Z"),
    )
    page = SourcePage.model_validate_json((await client.get("/v1/sources")).content)
    assert [s.url for s in page.data] == ["https://r.com/1", "https://e.com/new", "https://e.com/old"]
    tass = page.data[1].publisher
    assert tass is not None
    r = await client.get("/v1/sources", params={"publisher": tass.id, "published_after": "2024-06-01"})
    assert [s["url"] for s in r.json()["data"]] == ["https://e.com/new"]
    first = (await client.get("/v1/sources", params={"limit": 2})).json()
    rest = (await client.get("/v1/sources", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [s["url"] for s in first["data"] + rest["data"]] == [s.url for s in page.data]


async def test_topics_list_with_counts_and_their_claims(client: httpx.AsyncClient, db: Database) -> None:
    await write(
        db, document("https://e.com/1", quote("a.", topics=["nato"]), quote("b.", STARMER, topics=["nato", "ukraine"]))
    )
    topics = TopicPage.model_validate_json((await client.get("/v1/topics")).content)
    assert [(t.slug, t.claim_count) for t in topics.data] == [("nato", 2), ("ukraine", 1)]
    r = await client.get("/v1/topics/ukraine/claims")
    assert [c["content"] for c in r.json()["data"]] == ["b."]
    assert (await client.get("/v1/topics/nothing-here/claims")).status_code == 404
    page = (await client.get("/v1/topics", params={"limit": 1})).json()
    rest = (await client.get("/v1/topics", params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert [t["slug"] for t in page["data"] + rest["data"]] == ["nato", "ukraine"]


async def test_import_reports_each_line_and_a_bad_line_blocks_nothing(client: httpx.AsyncClient) -> None:
    lines = [
        orjson.dumps(document("https://e.com/1", quote("Good."))),
        b"{not json",
        b"",
        orjson.dumps(document("https://e.com/2", quote("Bad ref.", {"id": 999}))),
        orjson.dumps(document("https://e.com/1", quote("Good."))),
        b"x" * 5000,
        orjson.dumps(document("https://e.com/3", quote("Also good."))),
    ]
    r = await client.post("/v1/import", content=b"\n".join(lines), headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200
    report = ImportReport.model_validate_json(r.content)
    assert [(line.line, line.status) for line in report.lines] == [
        (1, "created"),
        (2, "error"),
        (4, "error"),
        (5, "unchanged"),
        (6, "error"),
        (7, "created"),
    ]
    assert report.lines[2].errors[0]["field"] == "claims[0].speakers[0].entity.id"
    assert (report.created, report.unchanged, report.failed) == (2, 1, 3)
    assert len((await client.get("/v1/claims")).json()["data"]) == 2


async def test_import_caps_each_line_and_refuses_other_media_types(client: httpx.AsyncClient, settings: object) -> None:
    r = await client.post("/v1/import", content=b"{}", headers={"Content-Type": "text/csv"})
    assert r.status_code == 415
    assert r.headers["content-type"] == "application/problem+json"


async def test_import_reads_a_streamed_body_in_chunks(client: httpx.AsyncClient) -> None:
    line = orjson.dumps(document("https://e.com/1", quote("Chunked.")))

    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(line), 7):
            yield line[i : i + 7]
        yield b"\n\n"

    r = await client.post("/v1/import", content=chunks(), headers={"Content-Type": "application/x-ndjson"})
    assert [line["status"] for line in r.json()["lines"]] == ["created"]


async def test_export_then_import_into_an_empty_database_round_trips(client: httpx.AsyncClient, db: Database) -> None:
    await demo(db)
    await write(
        db,
        document(
            "https://e.com/1",
            quote(
                "With extras.",
                MERZ,
                STARMER,
                mentions=[{"name": "NATO", "kind": "organization"}],
                topics=["nato"],
                language="en",
                said_at="2025-11-25T10:00:00+01:00",
            ),
        ),
    )
    exported = (await client.get("/v1/export")).content
    assert exported.endswith(b"\n")
    before_claims = (await client.get("/v1/claims?limit=100")).json()["data"]
    await db.execute(DATA_TABLES)
    r = await client.post("/v1/import", content=exported, headers={"Content-Type": "application/x-ndjson"})
    report = r.json()
    assert report["failed"] == 0, report
    after_claims = (await client.get("/v1/claims?limit=100")).json()["data"]

    def shape(claims: list[dict]) -> list[tuple]:  # type: ignore[type-arg]
        return sorted(
            (
                c["content"],
                c["said_at"],
                c["said_at_precision"],
                c["language"],
                tuple(s["name"] for s in c["speakers"]),
                tuple(m["name"] for m in c["mentions"]),
                tuple(t["slug"] for t in c["topics"]),
                tuple(a["quote"] for a in c["appearances"]),
            )
            for c in claims
        )

    assert shape(after_claims) == shape(before_claims)
    again = (await client.get("/v1/export")).content
    assert again == exported
    reimport = await client.post("/v1/import", content=exported, headers={"Content-Type": "application/x-ndjson"})
    assert reimport.json()["created"] == 0


async def test_export_filters_by_publisher(client: httpx.AsyncClient, db: Database) -> None:
    await write(db, document("https://e.com/1", quote("a.")))
    await write(db, document("https://r.com/1", quote("b."), publisher=REUTERS))
    reuters = (await client.get("/v1/entities", params={"q": "reuters"})).json()["data"][0]["id"]
    lines = (await client.get("/v1/export", params={"publisher": reuters})).content.splitlines()
    assert [orjson.loads(line)["source"]["url"] for line in lines] == ["https://r.com/1"]
