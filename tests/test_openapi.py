"""The OpenAPI contract: the committed file matches the app, and the document is complete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.contracts import openapi_document, openapi_text

SPEC = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi_document()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_the_committed_openapi_file_matches_the_app() -> None:
    assert SPEC.read_text(encoding="utf-8") == openapi_text(), "run `make openapi` and commit openapi/openapi.json"


def test_the_document_is_openapi_3_1_without_graphql(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    assert not any(path.startswith("/graphql") for path in spec["paths"])


def test_every_operation_has_an_id_tags_summary_and_description(spec: dict[str, Any]) -> None:
    ids = []
    for method, path, op in operations(spec):
        assert op.get("operationId"), (method, path)
        assert op.get("tags") and op.get("summary") and len(op.get("description", "")) > 40, (method, path)
        ids.append(op["operationId"])
    assert len(ids) == len(set(ids))
    assert {
        "listClaims",
        "getClaim",
        "createClaim",
        "patchClaim",
        "deleteClaim",
        "createSource",
        "importSources",
    } <= set(ids)


def test_every_parameter_has_a_description_and_an_example(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        for param in op.get("parameters", []):
            where = (method, path, param["name"])
            assert param.get("description"), where
            assert "example" in param or "examples" in param or "examples" in param["schema"], where


def test_every_error_response_is_a_problem_document(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        responses = op["responses"]
        assert "422" in responses and "503" in responses, (method, path)
        for status, response in responses.items():
            if status[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (method, path, status)
                assert response["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def test_every_response_schema_property_has_a_description_and_an_example(spec: dict[str, Any]) -> None:
    names = {
        "ClaimPublic",
        "ClaimPage",
        "ClaimSpeaker",
        "AppearancePublic",
        "RelatedClaim",
        "EntityBrief",
        "SourceBrief",
        "TopicBrief",
        "EntityPublic",
        "EntitySummary",
        "EntityPage",
        "SourcePublic",
        "SourceSummary",
        "SourcePage",
        "SourceWritten",
        "TopicPage",
        "TopicPublic",
        "ImportReport",
        "ImportLine",
        "Problem",
        "EntityMoved",
    }
    schemas = spec["components"]["schemas"]
    assert names <= set(schemas)
    for name in names:
        assert schemas[name].get("description"), name
        for prop, body in schemas[name]["properties"].items():
            assert body.get("description"), (name, prop)
            nested = "$ref" in body or any("$ref" in o for o in body.get("anyOf", []))
            is_list_of_models = body.get("type") == "array" and "$ref" in body.get("items", {})
            assert "examples" in body or nested or is_list_of_models, (name, prop)


def test_writes_declare_the_api_key_and_reads_make_it_optional(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    (name,) = [n for n, s in schemes.items() if s == {**s, "type": "apiKey", "in": "header", "name": "X-API-Key"}]
    for method, path, op in operations(spec):
        if method == "GET" or op.get("x-claims-scope") == "read":  # a POST that only reads (extraction)
            assert {} in op["security"], (method, path)
        else:
            assert {name: []} in op["security"] and {} not in op["security"], (method, path)
            assert {"401", "403"} <= set(op["responses"]), (method, path)


def test_the_stateful_links_connect_writes_to_reads(spec: dict[str, Any]) -> None:
    created = spec["paths"]["/v1/sources"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in created.values()} == {"getSource", "listClaims"}
    read = spec["paths"]["/v1/claims/{claim_id}"]["get"]["responses"]["200"]["links"]
    assert read["patchClaim"]["parameters"]["header.If-Match"] == "$response.header.ETag"
    assert read["deleteClaim"]["operationId"] == "deleteClaim"


def test_claim_reads_document_json_ld_and_caching_headers(spec: dict[str, Any]) -> None:
    ok = spec["paths"]["/v1/claims/{claim_id}"]["get"]["responses"]["200"]
    assert {"application/json", "application/ld+json"} <= set(ok["content"])
    assert {"ETag", "Cache-Control"} <= set(ok["headers"])
    assert "Link" in spec["paths"]["/v1/claims"]["get"]["responses"]["200"]["headers"]


def test_every_schema_field_has_a_description(spec: dict[str, Any]) -> None:
    bare = [
        f"{name}.{field}"
        for name, schema in spec["components"]["schemas"].items()
        for field, member in schema.get("properties", {}).items()
        if not member.get("description")
    ]
    assert bare == []


def _integers(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [found for item in node for found in _integers(item)]
    if not isinstance(node, dict):
        return []
    here = [node] if node.get("type") == "integer" else []
    return here + [found for value in node.values() for found in _integers(value)]


def test_integer_bounds_are_exact_integers(spec: dict[str, Any]) -> None:
    integers = _integers(spec)
    for schema in integers:
        for key in ("minimum", "maximum"):
            assert not isinstance(schema.get(key), float), schema
    into = spec["components"]["schemas"]["EntityMerge"]["properties"]["into"]
    assert into["maximum"] == 2**63 - 1 and into["minimum"] == 1
    assert '"maximum": 9223372036854775807' in SPEC.read_text(encoding="utf-8")


def test_members_that_cannot_be_null_are_not_nullable(spec: dict[str, Any]) -> None:
    update = spec["components"]["schemas"]["ClaimUpdate"]["properties"]
    for name in ("content", "kind", "said_at_precision"):
        assert "anyOf" not in update[name] and "default" not in update[name], name
    assert {"type": "null"} in update["language"]["anyOf"]


def test_if_match_is_required_where_the_server_requires_it(spec: dict[str, Any]) -> None:
    patch = spec["paths"]["/v1/claims/{claim_id}"]["patch"]
    (if_match,) = [p for p in patch["parameters"] if p["name"] == "If-Match"]
    assert if_match["required"] is True and if_match["in"] == "header"
    delete = spec["paths"]["/v1/claims/{claim_id}"]["delete"]
    assert not next(p for p in delete["parameters"] if p["name"] == "If-Match").get("required")


def test_every_link_can_be_followed_from_any_response_it_belongs_to(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        for status, response in op["responses"].items():
            for name, link in response.get("links", {}).items():
                for expression in link["parameters"].values():
                    # A pointer into an array (…/0/…) fails on an empty one.
                    assert not any(part.isdigit() for part in expression.split("#")[-1].split("/")), (
                        method,
                        path,
                        status,
                        name,
                    )


def test_the_examples_hold_every_required_member(spec: dict[str, Any]) -> None:
    inline = [
        (f"{method} {path} {status} {media}", content["schema"])
        for method, path, op in operations(spec)
        for status, response in op["responses"].items()
        for media, content in response.get("content", {}).items()
    ]
    for name, schema in [*spec["components"]["schemas"].items(), *inline]:
        for example in schema.get("examples", []):
            missing = set(schema.get("required", [])) - set(example)
            assert not missing, (name, missing)


def test_the_document_names_a_license(spec: dict[str, Any]) -> None:
    assert spec["info"]["license"]["name"]
