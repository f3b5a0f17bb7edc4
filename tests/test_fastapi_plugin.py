"""shield.fastapi: settings declared next to FastAPI routes, enforced by the middleware install() adds.

Real FastAPI apps driven with httpx at the ASGI boundary; the OpenAPI document is checked as
generated.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from asgi_client import client_for, refused
from clocks import FrozenClock
from fastapi import APIRouter, Depends, FastAPI, Request

from shield import Policy, PolicyError, ShieldMiddleware, Viewer
from shield.fastapi import extend_policy, install, quota, shield_route
from shield.problems import PROBLEM_CONTENT_TYPE

pytestmark = pytest.mark.anyio

TOKEN_SECRET = "a token secret of at least thirty-two bytes, for tests only"
PEOPLE = [{"id": 100 + n, "handle": f"lucas{n:02}", "phone": "15912345678"} for n in range(7)]


def file_policy(**extra: Any) -> Policy:
    """The policy file: a quota the routes refer to by name, no route rules of its own."""
    data: dict[str, Any] = {
        "tokens": {"secrets": [TOKEN_SECRET]},
        "quota": [{"name": "profile-views", "limit": 2, "window": 60, "routes": ["/never-matched"]}],
        **extra,
    }
    return Policy.from_dict(data)


def build_app() -> FastAPI:
    app = FastAPI()
    app.state.seen = []

    @app.get("/people")
    @shield_route(
        mask=[("handle", "username")],
        seal=[("items[*].id", "person")],
        pagination={"style": "offset", "size_param": "limit", "max_size": 3, "links": ["$.next"]},
    )
    async def people(request: Request, offset: int = 0, limit: int = 3) -> dict[str, Any]:
        app.state.seen.append(dict(request.query_params))
        following = f"/people?offset={offset + limit}&limit={limit}" if offset + limit < len(PEOPLE) else None
        return {"items": PEOPLE[offset : offset + limit], "total": len(PEOPLE), "next": following}

    @app.get("/people/{person_id}", dependencies=[Depends(quota("profile-views"))])
    @shield_route(seal=[("id", "person")], unseal=[("person_id", "person")])
    async def person(person_id: int) -> dict[str, Any]:
        return next(p for p in PEOPLE if p["id"] == person_id)

    @app.get("/handles")  # no route settings: the policy's global rules only
    async def handles() -> list[dict[str, Any]]:
        return PEOPLE

    @app.get("/exports")
    async def exports(_: None = Depends(quota("exports", limit=1, window=3600))) -> dict[str, str]:
        return {"export": "ready"}

    @app.get("/status")
    @shield_route(masking=False)
    async def status() -> dict[str, str]:
        return {"support": "call 15912345678"}

    return app


def installed(app: FastAPI | None = None, policy: Policy | None = None) -> FastAPI:
    app = app or build_app()
    install(app, policy or file_policy(), clock=FrozenClock())
    return app


# --- enforcement ------------------------------------------------------------------------------


async def test_route_rules_mask_only_their_route() -> None:
    async with client_for(installed()) as client:
        listed = (await client.get("/people")).json()["items"]
        plain = (await client.get("/handles")).json()
    assert [p["handle"] for p in listed] == ["l***0", "l***1", "l***2"]
    assert plain[0]["handle"] == "lucas00"  # the route rule does not reach other routes
    assert "15912345678" not in str(listed) + str(plain)  # global free-text detection everywhere


async def test_masking_false_on_the_decorator_passes_the_body_through() -> None:
    async with client_for(installed()) as client:
        response = await client.get("/status")
    assert response.json() == {"support": "call 15912345678"}


async def test_pagination_from_the_decorator_walks_by_cursor_and_refuses_offsets() -> None:
    app = installed()
    async with client_for(app) as client:
        first = (await client.get("/people?limit=50")).json()  # lowered to max_size
        assert len(first["items"]) == 3
        assert first["next"].startswith("/people?")
        assert "offset" not in first["next"]
        assert "cursor=" in first["next"]
        second = (await client.get(first["next"])).json()
        third = (await client.get(second["next"])).json()
        assert third["next"] is None
        assert (await client.get("/people?offset=0")).status_code == 200  # the first page's value
        refused(await client.get("/people?offset=3"), 400, "parameter-refused")
    assert [seen.get("offset") for seen in app.state.seen[:3]] == [None, "3", "6"]
    assert len(first["items"]) + len(second["items"]) + len(third["items"]) == len(PEOPLE)


async def test_sealed_ids_open_on_the_detail_route_and_raw_ids_are_refused() -> None:
    async with client_for(installed()) as client:
        token = (await client.get("/people")).json()["items"][0]["id"]
        assert isinstance(token, str)
        assert token != "100"
        opened = await client.get(f"/people/{token}")
        assert opened.status_code == 200
        assert opened.json()["handle"] == "lucas00"  # only the /people route masks handles
        assert opened.json()["id"] == token  # sealed again on the way out
        refused(await client.get("/people/101"), 400, "token-invalid")


async def test_a_policy_quota_declared_with_depends_counts_the_route() -> None:
    async with client_for(installed()) as client:
        token = (await client.get("/people")).json()["items"][0]["id"]
        assert (await client.get(f"/people/{token}")).status_code == 200
        assert (await client.get(f"/people/{token}")).status_code == 200
        third = await client.get(f"/people/{token}")
        assert (await client.get("/people")).status_code == 200  # other routes are not counted
    problem = refused(third, 429, "quota-exceeded")
    assert problem["quota"] == "profile-views"
    assert int(third.headers["retry-after"]) >= 1
    assert third.headers["ratelimit-policy"] == '"profile-views";q=2;w=60'


async def test_an_inline_quota_is_defined_and_enforced() -> None:
    async with client_for(installed()) as client:
        assert (await client.get("/exports")).status_code == 200
        problem = refused(await client.get("/exports"), 429, "quota-exceeded")
    assert problem["quota"] == "exports"


async def test_router_dependencies_declare_quotas_for_all_their_routes() -> None:
    app = FastAPI()
    router = APIRouter(prefix="/v1", dependencies=[Depends(quota("burst", limit=1, window=60))])

    @router.get("/a")
    async def a() -> dict[str, int]:
        return {"a": 1}

    @router.get("/b")
    async def b() -> dict[str, int]:
        return {"b": 1}

    app.include_router(router)
    install(app, Policy.from_dict({}), clock=FrozenClock())
    async with client_for(app) as client:
        statuses = [(await client.get(path)).status_code for path in ("/v1/a", "/v1/b", "/v1/a", "/v1/b")]
    assert statuses == [200, 200, 429, 429]  # one budget per route template, as in the file
    rule = extend_policy(app, Policy.from_dict({})).quota[0]
    assert rule.routes == ("/v1/a", "/v1/b")
    assert rule.methods == frozenset({"GET", "HEAD"})  # the declaring routes' methods only
    assert "429" in app.openapi()["paths"]["/v1/b"]["get"]["responses"]


async def test_the_same_inline_quota_object_on_two_routes_is_one_quota() -> None:
    app = FastAPI()
    shared = quota("shared", limit=1, window=60, group="pair")

    @app.get("/x", dependencies=[Depends(shared)])
    async def x() -> dict[str, int]:
        return {}

    @app.post("/y", dependencies=[Depends(quota("shared"))])  # a reference to the inline quota
    async def y() -> dict[str, int]:
        return {}

    install(app, Policy.from_dict({}), clock=FrozenClock())
    async with client_for(app) as client:
        assert (await client.get("/x")).status_code == 200
        refused(await client.post("/y"), 429, "quota-exceeded")  # one group, one budget


async def test_authentication_added_before_install_still_runs_before_shield() -> None:
    from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser  # noqa: PLC0415
    from starlette.middleware.authentication import AuthenticationMiddleware  # noqa: PLC0415
    from starlette.requests import HTTPConnection  # noqa: PLC0415

    class HeaderAuth(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
            user = conn.headers.get("x-user")
            return (AuthCredentials(["authenticated"]), SimpleUser(user)) if user else None

    app = FastAPI()

    @app.get("/me", dependencies=[Depends(quota("mine", limit=1, per=["user"]))])
    async def me() -> dict[str, str]:
        return {}

    app.add_middleware(AuthenticationMiddleware, backend=HeaderAuth())
    install(app, Policy.from_dict({}), clock=FrozenClock())
    outermost: object = app.user_middleware[0].cls
    assert outermost is AuthenticationMiddleware  # still outside shield
    async with client_for(app) as client:
        assert (await client.get("/me", headers={"x-user": "ada"})).status_code == 200
        assert (await client.get("/me", headers={"x-user": "bob"})).status_code == 200  # own budget
        refused(await client.get("/me", headers={"x-user": "ada"}), 429, "quota-exceeded")


async def test_middleware_options_reach_shield() -> None:
    app = build_app()

    def nobody(scope: Any) -> Viewer | None:
        return None

    install(app, file_policy(), viewer=nobody, clock=FrozenClock())
    async with client_for(app) as client:
        assert (await client.get("/people")).status_code == 200


# --- install() --------------------------------------------------------------------------------


def test_route_settings_come_before_the_files_routes() -> None:
    policy = file_policy(route=[{"path": "/people", "masking": False}, {"path": "/orders", "masking": False}])
    merged = extend_policy(build_app(), policy)
    assert [route.path for route in merged.routes] == [
        "/people",
        "/people/{person_id}",
        "/status",
        "/people",
        "/orders",
    ]
    assert merged.routes[0].pagination is not None
    assert merged.routes[0].methods == frozenset({"GET", "HEAD"})
    views = next(rule for rule in merged.quota if rule.name == "profile-views")
    assert views.routes == ("/never-matched", "/people/{person_id}")
    assert policy.routes[0].path == "/people"  # the original policy is untouched
    assert len(policy.quota[0].routes) == 1


def test_an_app_without_declarations_keeps_the_policy() -> None:
    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return {}

    policy = file_policy()
    assert extend_policy(app, policy) is policy


def test_unknown_quota_name_fails_at_install_naming_the_route() -> None:
    app = FastAPI()

    @app.get("/people/{person_id}", dependencies=[Depends(quota("profile-view"))])
    async def person(person_id: int) -> dict[str, str]:
        return {}

    with pytest.raises(PolicyError) as error:
        install(app, file_policy())
    message = str(error.value)
    assert error.value.path == "route[GET /people/{person_id}]"
    assert "unknown quota 'profile-view' (did you mean 'profile-views'?)" in message
    assert "person" in message
    assert not app.user_middleware  # nothing installed


@pytest.mark.parametrize(
    ("settings", "path", "problem"),
    [
        ({"mask": [("handle", "usrname")]}, "route[GET /bad].mask[0].kind", "did you mean 'username'"),
        ({"pagination": {"styel": "page"}}, "route[GET /bad].pagination.styel", "unknown key"),
        ({"seal": [("id", "not a kind")]}, "route[GET /bad].seal[0].kind", "record kind"),
        ({"unseal": [{"param": "x", "kind": "user", "raw": "maybe"}]}, "route[GET /bad].unseal[0].raw", "'refuse'"),
        ({"mask": ["phone"]}, "route[GET /bad].mask[0]", "expected a table"),
    ],
)
def test_invalid_route_settings_fail_at_install_like_the_file(settings: Any, path: str, problem: str) -> None:
    app = FastAPI()

    @app.get("/bad")
    @shield_route(**settings)
    async def bad() -> dict[str, str]:
        return {}

    with pytest.raises(PolicyError) as error:
        install(app, file_policy())
    assert error.value.path == path
    assert problem in error.value.problem
    assert error.value.problem.endswith("<locals>.bad)")  # (declared on <the endpoint>)


def test_errors_elsewhere_in_the_policy_name_the_route_that_caused_them() -> None:
    app = FastAPI()

    @app.get("/feed")
    @shield_route(pagination={"style": "after_id"})
    async def feed() -> dict[str, str]:
        return {}

    with pytest.raises(PolicyError) as error:
        install(app, Policy.from_dict({"route": [{"path": "/a"}]}))  # cursors need token secrets
    assert error.value.path == "tokens.secrets"
    assert "required by route[GET /feed]" in error.value.problem


@pytest.mark.parametrize(
    ("declaration", "path", "problem"),
    [
        (quota("profile-views", limit=5), "route[GET /q]", "already defined by the policy"),
        (quota("bad name!", limit=5), "quota[bad name!].name", "letters, digits"),
        (quota("neg", limit=-1), "quota[neg].limit", "positive"),
        (quota("kinds", limit=1, kind="bytes"), "quota[kinds].kind", "unknown value 'bytes'"),
    ],
)
def test_invalid_inline_quotas_fail_at_install(declaration: Any, path: str, problem: str) -> None:
    app = FastAPI()

    @app.get("/q", dependencies=[Depends(declaration)])
    async def q() -> dict[str, str]:
        return {}

    with pytest.raises(PolicyError) as error:
        install(app, file_policy())
    assert error.value.path == path
    assert problem in error.value.problem


def test_one_quota_defined_twice_differently_is_an_error() -> None:
    app = FastAPI()

    @app.get("/a", dependencies=[Depends(quota("q", limit=1))])
    async def a() -> dict[str, str]:
        return {}

    @app.get("/b", dependencies=[Depends(quota("q", limit=2))])
    async def b() -> dict[str, str]:
        return {}

    with pytest.raises(PolicyError, match=r"defined differently on GET /a"):
        install(app, file_policy())


def test_a_reference_takes_no_settings() -> None:
    with pytest.raises(PolicyError, match="takes no settings"):
        quota("profile-views", window=10)


def test_decorating_twice_is_an_error() -> None:
    with pytest.raises(TypeError, match="already has @shield_route"):

        @shield_route(masking=False)
        @shield_route(mask=[("a", "redact")])
        async def twice() -> None:
            return None


def test_a_misspelt_middleware_option_fails_at_install() -> None:
    app = build_app()
    with pytest.raises(TypeError, match="quota_stor"):
        install(app, file_policy(), quota_stor=None)
    assert not app.user_middleware


def test_install_twice_is_an_error() -> None:
    app = installed()
    with pytest.raises(RuntimeError, match="already installed"):
        install(app, file_policy())


def test_a_policy_changed_after_loading_is_refused() -> None:
    changed = replace(file_policy(), max_body_bytes=10)
    with pytest.raises(TypeError, match="changed after loading"):
        install(build_app(), changed)


async def test_routes_declared_after_install_stop_the_app_at_startup() -> None:
    app = installed()

    @app.get("/late")
    @shield_route(mask=[("x", "redact")])
    async def late() -> dict[str, str]:
        return {"x": "secret"}

    async with client_for(app) as client:
        with pytest.raises(RuntimeError, match=r"after install\(\) \(GET /late\)"):
            await client.get("/late")


class Marker:
    """A middleware that does nothing: only its place in the stack matters."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


async def test_shield_wraps_the_middleware_added_before_it() -> None:
    app = build_app()
    app.add_middleware(Marker)
    install(app, file_policy(), clock=FrozenClock())
    async with client_for(app) as client:
        assert (await client.get("/status")).status_code == 200
    layers = []
    layer: Any = app.middleware_stack
    while layer is not None:
        layers.append(type(layer))
        layer = getattr(layer, "app", None)
    assert layers.index(ShieldMiddleware) < layers.index(Marker)


# --- OpenAPI ----------------------------------------------------------------------------------


def openapi_of(app: FastAPI) -> dict[str, Any]:
    schema = app.openapi()
    assert app.openapi() is schema  # annotated once, cached by FastAPI
    return schema


def parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", [])}


def test_openapi_shows_the_cursor_and_first_page_only_offsets() -> None:
    operation = openapi_of(installed())["paths"]["/people"]["get"]
    params = parameters(operation)
    assert params["cursor"]["in"] == "query"
    assert params["cursor"]["schema"] == {"type": "string"}
    assert not params["cursor"]["required"]
    assert params["offset"]["description"].startswith("First page only: `0`")
    assert "lowered to 3" in params["limit"]["description"]


def test_openapi_hides_a_native_parameter_clients_may_never_send() -> None:
    app = FastAPI()

    @app.get("/feed")
    @shield_route(pagination={"style": "after_id"})
    async def feed(after_id: int = 0) -> dict[str, str]:
        return {}

    params = parameters(openapi_of(installed(app))["paths"]["/feed"]["get"])
    assert set(params) == {"cursor"}


def test_openapi_documents_problem_responses_per_route() -> None:
    schema = openapi_of(installed())
    paths = schema["paths"]
    problem = {"$ref": "#/components/schemas/ShieldProblem"}
    listing = paths["/people"]["get"]["responses"]
    for status in ("400", "403", "410", "502"):
        assert listing[status]["content"] == {PROBLEM_CONTENT_TYPE: {"schema": problem}}, status
    assert "chain-too-deep" in listing["403"]["description"]
    assert "429" not in listing  # no quota counts /people
    detail = paths["/people/{person_id}"]["get"]
    assert detail["responses"]["429"]["content"] == {PROBLEM_CONTENT_TYPE: {"schema": problem}}
    assert "profile-views" in detail["responses"]["429"]["description"]
    assert set(detail["responses"]["429"]["headers"]) == {"Retry-After", "RateLimit", "RateLimit-Policy"}
    assert "403" not in detail["responses"]  # unsealing alone cannot answer 403 without detailed_errors
    assert parameters(detail)["person_id"]["schema"] == {"type": "string"}
    assert "sealed person ID" in parameters(detail)["person_id"]["description"]
    assert "429" in paths["/exports"]["get"]["responses"]
    assert set(paths["/handles"]["get"]["responses"]) == {"200", "502"}  # global masking may fail closed
    assert set(paths["/status"]["get"]["responses"]) == {"200"}  # masking off: shield never answers
    components = schema["components"]
    assert components["schemas"]["ShieldProblem"]["required"] == ["type", "title", "status", "detail"]
    assert set(components["headers"]) == {"Retry-After", "RateLimit", "RateLimit-Policy"}
    assert "200" in listing
    assert "422" in listing  # FastAPI's own responses stay


async def test_the_served_openapi_document_is_the_annotated_one() -> None:
    async with client_for(installed()) as client:
        served = (await client.get("/openapi.json")).json()
    assert "cursor" in parameters(served["paths"]["/people"]["get"])
    assert "ShieldProblem" in served["components"]["schemas"]


def test_openapi_follows_the_header_and_store_settings() -> None:
    policy = file_policy(quotas={"headers": "always", "penalty": {"strikes": 3}})
    responses = openapi_of(installed(policy=policy))["paths"]["/exports"]["get"]["responses"]
    assert set(responses["200"]["headers"]) == {"RateLimit", "RateLimit-Policy"}
    assert "temporarily-blocked" in responses["429"]["description"]
    assert "503" not in responses  # memory store: no outage to report

    shared = file_policy(quotas={"store": "redis"}, secrets={"hash_key": "0123456789abcdef0123"})
    responses = openapi_of(installed(policy=shared))["paths"]["/exports"]["get"]["responses"]
    assert set(responses["503"]["headers"]) == {"Retry-After"}  # outage = "closed" by default

    silent = file_policy(quotas={"headers": "none"})
    responses = openapi_of(installed(policy=silent))["paths"]["/exports"]["get"]["responses"]
    assert set(responses["429"]["headers"]) == {"Retry-After"}
    assert "headers" not in responses["200"]


def test_openapi_keeps_responses_the_app_documents() -> None:
    app = FastAPI()

    @app.get("/limited", responses={429: {"description": "ours"}}, dependencies=[Depends(quota("l", limit=1))])
    async def limited() -> dict[str, str]:
        return {}

    responses = openapi_of(installed(app))["paths"]["/limited"]["get"]["responses"]
    assert responses["429"]["description"] == "ours"


# --- the documented example -------------------------------------------------------------------


def documented_app(name: str) -> Any:
    """The first Python block of docs/integrations/<name>.md, run: the page's example must work."""
    page = Path(__file__).parents[1] / "docs" / "integrations" / f"{name}.md"
    found = re.search(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert found is not None
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), str(page), "exec"), namespace)
    return namespace["app"]


async def test_the_documented_example_does_what_the_page_says() -> None:
    async with client_for(documented_app("fastapi")) as client:
        first = (await client.get("/customers")).json()
        assert "cursor=" in first["next"]
        assert "offset" not in first["next"]
        assert first["items"][0]["name"] != "customer0"
        assert "13912340000" not in str(first)
        refused(await client.get("/customers?offset=20"), 400, "parameter-refused")
        refused(await client.get("/customers/100002"), 400, "token-invalid")
        token = first["items"][1]["id"]
        views = [(await client.get(f"/customers/{token}")).status_code for _ in range(31)]
        exports = [(await client.post("/exports")).status_code for _ in range(3)]
    assert views == [200] * 29 + [429, 429]  # the refused raw ID above was the 1st of 30
    assert exports == [200, 200, 429]
